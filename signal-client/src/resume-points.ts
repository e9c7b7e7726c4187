import type { Logger } from 'pino';
import { offsetGreater } from '@appliance/protocol';
import {
  MAX_RESUME_STREAMS,
  MAX_SINCE_PARTITIONS,
  isOffset,
  isPartitionKey,
  type ClientState,
} from './state.js';
import type { ErrorList } from './telemetry.js';

export interface ResumePointsDeps {
  state: ClientState;
  /** `settings.streams`: the streams this device follows; empty follows every stream. */
  streams: readonly string[];
  logger: Logger;
  errors: Pick<ErrorList, 'record'>;
  persist: () => Promise<void>;
}

/**
 * Where the device stands on the bus: a resume point per stream (`state.resume`) and, per
 * partition, `since`. Both go in every hello, so both are bounded and moved only by what the
 * device has handled (see advance) or by where the gateway says streams stand (see adopt).
 */
export interface ResumePoints {
  /** The hello's `resume` and `since` (copies). */
  forHello(): { resume: Record<string, string>; since?: Record<string, string> };
  /** The signal at `offset` was handled before (a resend after a reconnect or restart). */
  handled(stream: string, offset: string): boolean;
  /** The device follows only some streams and not this one. */
  notFollowed(stream: string): boolean;
  /** Moves `stream`'s resume point past `offset` (the caller persists). */
  advance(stream: string, offset: string): void;
  /** Takes in a `caught-up` frame's positions (and persists if anything changed). */
  adopt(positions: Record<string, string>, partitions: Record<string, string> | undefined): Promise<void>;
}

export function createResumePoints(deps: ResumePointsDeps): ResumePoints {
  const { state, logger, errors, persist } = deps;
  const followed = new Set(deps.streams);
  let resumeFullReported = false;

  /**
   * The only writer of resume points besides adopt: for streams this device follows, from
   * genuine signals only (the callers see to that), so no outsider can grow the hello.
   * Following every stream, at most MAX_RESUME_STREAMS streams get one; a stream past that is
   * still handled, and after a reconnect is sent again from `since` (refused as replays).
   */
  function advance(stream: string, offset: string): void {
    const held = state.resume[stream];
    if (held === undefined) {
      if (followed.size > 0 && !followed.has(stream)) return;
      if (Object.keys(state.resume).length >= MAX_RESUME_STREAMS) {
        if (!resumeFullReported) {
          resumeFullReported = true;
          const text = `more than ${MAX_RESUME_STREAMS} signed streams: no resume point kept for ${stream} and any further stream (follow fewer streams in settings.streams)`;
          logger.error({ stream }, text);
          errors.record(text);
        }
        return;
      }
    }
    state.resume[stream] = maxOffset(held, offset);
  }

  /**
   * Followed streams this device has no resume point for start where the gateway says it now
   * stands (only followed ones: the gateway's list is not signed, and following every stream,
   * `since` covers them); and where it stands per partition becomes the next hello's `since`, so
   * a stream that starts while this device is offline is sent from its beginning. Every signal
   * before this frame has been handled and persisted (frames are handled in order), so neither
   * can run ahead of the device.
   */
  async function adopt(
    positions: Record<string, string>,
    partitions: Record<string, string> | undefined,
  ): Promise<void> {
    const entries = (v: Record<string, string> | undefined) =>
      v ? Object.entries(v).filter((e) => isOffset(e[1])) : [];
    let changed = false;
    for (const [stream, offset] of entries(positions)) {
      if (followed.has(stream) && state.resume[stream] === undefined) {
        state.resume[stream] = offset;
        changed = true;
      }
    }
    if (partitions && !state.since) {
      state.since = {}; // live once: from now on a new stream is owed from its start
      changed = true;
    }
    for (const [partition, offset] of entries(partitions)) {
      const since = state.since;
      if (!since || !isPartitionKey(partition)) continue;
      const held = since[partition];
      if (held === undefined && Object.keys(since).length >= MAX_SINCE_PARTITIONS) continue;
      if (held === undefined || offsetGreater(offset, held)) {
        since[partition] = offset;
        changed = true;
      }
    }
    if (changed) await persist();
  }

  return {
    forHello: () => ({
      resume: { ...state.resume },
      ...(state.since ? { since: { ...state.since } } : {}),
    }),
    handled(stream, offset) {
      const held = state.resume[stream];
      return held !== undefined && !offsetGreater(offset, held);
    },
    notFollowed: (stream) => followed.size > 0 && !followed.has(stream),
    advance,
    adopt,
  };
}

function maxOffset(a: string | undefined, b: string): string {
  return a === undefined || offsetGreater(b, a) ? b : a;
}
