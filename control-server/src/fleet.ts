import type { DecisionRecord, Telemetry } from '@appliance/protocol';

export interface FleetEntry {
  id: string;
  scope: string;
  label: string;
  online: boolean;
  lastSeen: number | null;
  gateway: string | null;
  fills: number;
  equity: number | null;
  spendToday: number;
  positions: Record<string, number>;
  lastDecisions: DecisionRecord[];
  errors: string[];
}

interface Seen {
  lastSeen: number;
  gateway: string;
  telemetry?: Telemetry;
  decisions: DecisionRecord[];
}

/** Default: a device is online while it reported within this window. */
export const DEFAULT_ONLINE_WINDOW_MS = 15_000;

/** What the operator sees of each device, built only from what devices report (never keys). */
export class FleetView {
  readonly #seen = new Map<string, Seen>();

  constructor(readonly onlineWindowMs = DEFAULT_ONLINE_WINDOW_MS) {}

  /** Applies one record from the telemetry topic; returns false when it is not one we know. */
  apply(record: unknown): boolean {
    const r = record as { type?: string; deviceId?: string; receivedAt?: number; gateway?: string };
    if (typeof r.deviceId !== 'string' || typeof r.receivedAt !== 'number') return false;
    const seen = this.#seen.get(r.deviceId) ?? { lastSeen: 0, gateway: '', decisions: [] };
    seen.lastSeen = Math.max(seen.lastSeen, r.receivedAt);
    seen.gateway = r.gateway ?? seen.gateway;
    if (r.type === 'telemetry') seen.telemetry = record as Telemetry;
    else if (r.type === 'decision') {
      seen.decisions.push((record as { decision: DecisionRecord }).decision);
      if (seen.decisions.length > 20) seen.decisions.shift();
    } else return false;
    this.#seen.set(r.deviceId, seen);
    return true;
  }

  entries(devices: { id: string; scope: string; label: string }[], now: number): FleetEntry[] {
    return devices.map((d) => {
      const s = this.#seen.get(d.id);
      const t = s?.telemetry;
      return {
        id: d.id,
        scope: d.scope,
        label: d.label,
        online: !!s && now - s.lastSeen <= this.onlineWindowMs,
        lastSeen: s?.lastSeen ?? null,
        gateway: s?.gateway ?? null,
        fills: t?.fills ?? 0,
        equity: t?.equity ?? null,
        spendToday: t?.spendToday ?? 0,
        positions: t?.positions ?? {},
        lastDecisions: (s?.decisions.length ? s.decisions : (t?.lastDecisions ?? [])).slice(-10),
        errors: t?.errors ?? [],
      };
    });
  }
}
