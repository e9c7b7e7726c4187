import type { Logger } from 'pino';
import { GatewayFrame } from '@appliance/protocol';
import type { Controls } from './controls.js';
import type { DecisionOutbox } from './outbox.js';
import type { ResumePoints } from './resume-points.js';
import { isOffset, isStreamName } from './state.js';

/** Frames from the gateway that are ignored as malformed are logged at most once per this. */
const BAD_FRAME_WARN_INTERVAL_MS = 10_000;

export interface InboundFramesDeps {
  logger: Logger;
  now: () => number;
  onSignal: (stream: string, offset: string, raw: unknown) => Promise<void>;
  outbox: Pick<DecisionOutbox, 'ack'>;
  controls: Pick<Controls, 'accept'>;
  resume: Pick<ResumePoints, 'adopt'>;
  persist: () => Promise<void>;
  /** A newer fleet message was taken in: its commands are handled (commands.ts). */
  onFleet?: () => Promise<void>;
  /** A `caught-up` frame has been taken in (the client's `caught-up` event). */
  onCaughtUp: () => void;
}

/**
 * What the gateway sends the device: each frame is parsed against protocol's GatewayFrame and
 * handed to what owns it. The caller runs one frame at a time, in order.
 */
export function createInboundFrames(deps: InboundFramesDeps): { handle(raw: unknown): Promise<void> } {
  const { logger, now } = deps;
  /** Frames that did not parse since the last warning about them (see `ignoreFrame`). */
  let badFrames = { lastWarnAt: -Infinity, suppressed: 0 };

  /**
   * A frame that is not one the gateway sends changes nothing: it is counted and logged, at
   * most once per BAD_FRAME_WARN_INTERVAL_MS (a broken or hostile gateway must not flood the log).
   */
  function ignoreFrame(what: string, detail: object = {}): void {
    const t = now();
    if (t - badFrames.lastWarnAt < BAD_FRAME_WARN_INTERVAL_MS) {
      badFrames.suppressed++;
      return;
    }
    logger.warn({ ...detail, suppressed: badFrames.suppressed }, `${what}: ignored`);
    badFrames = { lastWarnAt: t, suppressed: 0 };
  }

  async function handle(raw: unknown): Promise<void> {
    const parsed = GatewayFrame.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const type = (raw as { type?: unknown } | null)?.type;
      return ignoreFrame('gateway sent a frame that is not a gateway frame', {
        type: typeof type === 'string' ? type.slice(0, 32) : typeof type,
        issue: `${issue?.path.join('.') || 'frame'}: ${issue?.message}`.slice(0, 200),
      });
    }
    const frame = parsed.data;
    if (frame.type === 'signal') {
      // Only names and offsets a hello can carry: anything else would poison the state file.
      if (!isStreamName(frame.stream) || !isOffset(frame.offset))
        return ignoreFrame('gateway sent a signal frame with a bad stream or offset');
      await deps.onSignal(frame.stream, frame.offset, frame.signal);
    } else if (frame.type === 'ack') {
      if (deps.outbox.ack(frame.seq)) await deps.persist();
    } else if (frame.type === 'control') {
      const c = deps.controls.accept(frame.control);
      if (c?.kind === 'fleet') await deps.onFleet?.();
    } else if (frame.type === 'caught-up') {
      await deps.resume.adopt(frame.positions, frame.partitions);
      deps.onCaughtUp();
    }
  }

  return { handle };
}
