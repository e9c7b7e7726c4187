import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import { readFileIfExists, writeFileDurable } from '@appliance/runtime';
import { Ledger } from '@appliance/trading-core';
import { ClientState, emptyState } from './state.js';

/** The state file exists but cannot be trusted: the client refuses to trade and says why. */
export class StateError extends Error {
  override readonly name = 'StateError';
  readonly code = 'E_STATE_CORRUPT';
}

/** A lowdb adapter whose writes are durable (fsync of file and folder) and whose reads are checked. */
class DurableJsonAdapter implements Adapter<ClientState> {
  constructor(readonly path: string) {}

  async read(): Promise<ClientState | null> {
    const text = await readFileIfExists(this.path);
    if (text === undefined) return null;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new StateError(
        `state file ${this.path} is not valid JSON (truncated or corrupt): refusing to trade`,
      );
    }
    const parsed = ClientState.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new StateError(
        `state file ${this.path} does not match its schema at ${issue?.path.join('.') || '(root)'}: ${issue?.message}: refusing to trade`,
      );
    }
    if (parsed.data.ledger !== undefined) {
      try {
        Ledger.fromJSON(parsed.data.ledger);
      } catch (err) {
        throw new StateError(
          `state file ${this.path} holds books that do not balance (${(err as Error).message}): refusing to trade`,
        );
      }
    }
    return parsed.data;
  }

  async write(data: ClientState): Promise<void> {
    await writeFileDurable(this.path, JSON.stringify(data));
  }
}

export type StateStore = Low<ClientState>;

export async function openStateStore(path: string, deviceId: string): Promise<StateStore> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Low(new DurableJsonAdapter(path), emptyState(deviceId));
  await db.read();
  if (db.data.deviceId !== deviceId) {
    throw new StateError(
      `state file ${path} belongs to device ${db.data.deviceId}, not ${deviceId}: refusing to trade`,
    );
  }
  return db;
}
