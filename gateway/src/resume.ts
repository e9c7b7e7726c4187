import type { Logger } from 'pino';
import { TOPICS, offsetGreater, type Bus } from '@appliance/protocol';
import { CLOSE } from './close-codes.js';
import { controlIsFor, type ControlState } from './control-state.js';
import type { GatewayMetrics } from './metrics.js';
import type { GatewayOptions } from './options.js';
import type { Session, Sessions } from './session.js';
import type { StreamStore } from './stream-store.js';
import type { RingEntry, StreamRing } from './stream-ring.js';

/** How long a resume may wait for forgotten signals to be read back from the bus. */
const FETCH_FORGOTTEN_TIMEOUT_MS = 15_000;
/**
 * Resume points a hello may give for streams this gateway has not read (yet) that it keeps for
 * the connection: used if such a stream turns up (a gateway still reading the topic), ignored
 * otherwise. Anything beyond is ignored at once; it never grows anything but this small map.
 */
const MAX_PENDING_RESUMES = 32;

type Forgotten = Map<string, { entries: RingEntry[]; stoppedAt: string | undefined }>;

export interface ResumeDeps {
  bus: Bus;
  options: Pick<GatewayOptions, 'ringCapacity' | 'sendHighWaterBytes'>;
  sessions: Sessions;
  streams: StreamStore;
  controls: ControlState;
  metrics: GatewayMetrics;
  logger: Logger;
}

export type Resume = ReturnType<typeof createResume>;

/**
 * A device's hello, answered: control state, then what it missed on every stream (from the
 * rings, and from the bus where a ring has forgotten it), paced, then `caught-up`, after which
 * the device is ready for live fan-out.
 */
export function createResume({ bus, options, sessions, streams, controls, metrics, logger }: ResumeDeps) {
  const { rings, heads } = streams;
  const { refuse, deliver, cursorOf } = sessions;

  /**
   * The signals of `stream` after `after` that the ring has already forgotten, read back from
   * the bus: a temporary subscription from that offset on the stream's partition, up to the
   * ring's oldest entry. Bounded in count and time; what it cannot get is logged as a gap.
   */
  async function fetchForgotten(
    stream: string,
    ring: StreamRing,
    after: string,
  ): Promise<{ entries: RingEntry[]; stoppedAt: string | undefined }> {
    const out: RingEntry[] = [];
    let stoppedAt: string | undefined;
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const timer = setTimeout(finish, FETCH_FORGOTTEN_TIMEOUT_MS);
    const sub = await bus.subscribe({
      topic: TOPICS.signals,
      from: 'latest',
      offsets: { [ring.partition]: String(BigInt(after) + 1n) },
      onMessage: (m) => {
        if (m.partition !== ring.partition) return;
        const oldest = ring.oldest();
        if (!oldest || !offsetGreater(oldest.offset, m.offset)) {
          stoppedAt ??= m.offset; // reached what the ring still holds: complete
          return finish();
        }
        if (out.length >= options.ringCapacity * 10) return finish(); // bounded: the rest is a gap
        // Read back from the bus, so checked like every record: the ring holds verified ones only.
        const f = streams.check(m);
        if (f.ok && f.stream === stream && offsetGreater(m.offset, after))
          out.push({ offset: m.offset, frame: f.frame });
      },
    });
    await done;
    clearTimeout(timer);
    void sub.close();
    return { entries: out, stoppedAt };
  }

  /**
   * The signals of `stream` after `after`: read back from the bus where the ring has forgotten
   * them (`forgotten`), then the ring's. A gap neither could fill is logged.
   */
  function missedSince(
    session: Session,
    stream: string,
    ring: StreamRing,
    after: string,
    forgotten: Forgotten,
  ): RingEntry[] {
    const fetched = forgotten.get(stream);
    const inRing = ring.since(after);
    const oldest = ring.oldest();
    const fromBus = (fetched?.entries ?? []).filter((e) => !oldest || offsetGreater(oldest.offset, e.offset));
    // Whole when the ring forgot nothing newer, or the read-back reached what the ring still holds.
    const whole =
      !inRing.gap ||
      (fetched?.stoppedAt !== undefined && !!oldest && !offsetGreater(oldest.offset, fetched.stoppedAt));
    if (!whole)
      logger.warn(
        { device: session.claims.sub, stream, after },
        'resume older than the ring and the bus: signals missed',
      );
    return [...fromBus, ...inRing.entries];
  }

  async function hello(
    session: Session,
    resume: Record<string, string>,
    since: Record<string, string> | undefined,
  ): Promise<void> {
    if (session.ready || session.helloing) return refuse(session, CLOSE.POLICY, 'hello sent twice');
    session.helloing = true;
    clearTimeout(session.helloTimer);
    // Streams the device has no resume point for: a new device starts them from now; a known
    // one (it says where it last went live) is owed everything they carried after that point,
    // since they began while it was away.
    const from: Record<string, string> = { ...resume };
    const fromStart = new Set<string>();
    if (since !== undefined)
      for (const [stream, ring] of rings) {
        if (resume[stream] !== undefined) continue;
        const after = since[String(ring.partition)];
        if (after !== undefined) from[stream] = after;
        else fromStart.add(stream); // its partition was empty then: all of the stream is new to the device
      }
    // Resumes older than a ring: read back from the bus what the ring has forgotten.
    const forgotten: Forgotten = new Map();
    for (const [stream, after] of Object.entries(from)) {
      const ring = rings.get(stream);
      if (ring?.since(after).gap) forgotten.set(stream, await fetchForgotten(stream, ring, after));
    }
    if (session.closing) return;
    // Control state first, so the device knows breaker and eligibility before any signal.
    const controlsSent = new Map<string, number>();
    for (const [scope, c] of controls.held) {
      if (!controlIsFor(session, scope)) continue;
      deliver(session, c.frame, true);
      controlsSent.set(scope, c.version);
    }
    const backlog: string[] = [];
    for (const [stream, ring] of rings) {
      const after = from[stream];
      if (after === undefined && !fromStart.has(stream)) {
        // A new device: streams start from now, old signals would be stale.
        session.cursors.set(stream, ring.last()!.offset);
        continue;
      }
      const entries = after === undefined ? ring.all() : missedSince(session, stream, ring, after, forgotten);
      if (after === undefined && ring.forgotAny)
        logger.warn({ device: session.claims.sub, stream }, 'stream began before the ring: signals missed');
      for (const e of entries) backlog.push(e.frame);
      const last = entries.at(-1)?.offset ?? after;
      if (last !== undefined) session.cursors.set(stream, last);
    }
    // Resume points for streams this gateway does not know are not trusted to grow anything:
    // they are not echoed in `caught-up`, and only a few are kept in case the stream turns up.
    for (const [stream, after] of Object.entries(resume)) {
      if (rings.has(stream) || session.pending.size >= MAX_PENDING_RESUMES) continue;
      session.pending.set(stream, after);
    }
    // The backlog goes out at the pace the device reads it, never more than the high-water mark
    // queued. Live signals meanwhile land in the rings past this device's cursors; they are sent
    // next, round after round, until none are left.
    for (let round = backlog; round.length > 0;) {
      if (!(await sendPaced(session, round))) return;
      round = [];
      for (const [stream, ring] of rings) {
        const cursor = cursorOf(session, stream);
        // Every ring had a cursor set above: one without is a stream that began during the
        // catch-up, new to everyone, so all of it is live.
        const more = cursor === undefined ? { entries: ring.all(), gap: false } : ring.since(cursor);
        if (more.gap) {
          metrics.dropped.inc({ reason: 'slow-consumer' });
          refuse(session, CLOSE.TRY_AGAIN_LATER, 'catch-up slower than the feed: reconnect and resume');
          return;
        }
        for (const e of more.entries) round.push(e.frame);
        if (more.entries.length > 0) session.cursors.set(stream, more.entries.at(-1)!.offset);
      }
    }
    // From here to `ready` nothing awaits, so no live signal or control can slip in between.
    for (const [scope, c] of controls.held)
      if (controlIsFor(session, scope) && controlsSent.get(scope) !== c.version)
        deliver(session, c.frame, true);
    session.ready = true;
    // Where this device now stands on every stream: it keeps these as resume points, so even a
    // device that has not yet seen a signal misses nothing published while it is offline.
    // And where the gateway stands per partition, the device's `since` for its next hello.
    deliver(
      session,
      JSON.stringify({
        type: 'caught-up',
        positions: Object.fromEntries(session.cursors),
        partitions: Object.fromEntries(heads),
      }),
      true,
    );
    logger.info({ device: session.claims.sub, resume, since, backlog: backlog.length }, 'device ready');
  }

  /**
   * Sends `frames` in order; whenever more than the high-water mark is queued for the socket, it
   * waits until that is flushed to the kernel. False if the connection closed first.
   */
  async function sendPaced(session: Session, frames: string[]): Promise<boolean> {
    for (const frame of frames) {
      if (session.closing || session.ws.readyState !== session.ws.OPEN) return false;
      metrics.relayed.inc();
      if (session.ws.bufferedAmount <= options.sendHighWaterBytes) {
        session.ws.send(frame);
        continue;
      }
      // Past the mark: this frame's callback runs once it, and so all before it, is written.
      await new Promise<void>((resolve) => {
        const done = () => {
          session.ws.off('close', done);
          resolve();
        };
        session.ws.once('close', done);
        session.ws.send(frame, done);
      });
    }
    return !session.closing && session.ws.readyState === session.ws.OPEN;
  }

  return { hello };
}
