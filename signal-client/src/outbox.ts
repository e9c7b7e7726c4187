import type { Logger } from 'pino';
import {
  MAX_COMMAND_ACK_BATCH,
  MAX_DECISION_BATCH,
  type CommandAck,
  type CommandAckBatch,
  type DecisionBatch,
  type DecisionRecord,
} from '@appliance/protocol';
import { KEEP_OUTBOX, type Outbox, type OutboxEntry } from './state.js';

/**
 * Bytes of acknowledgements one `command-acks` frame carries at most (one ack always goes, and
 * the largest fits the gateway's 64 KiB frame limit: protocol/test/fleet-control.test.ts).
 */
const MAX_ACK_FRAME_BYTES = 32 * 1024;

const isAck = (e: OutboxEntry): e is { ack: CommandAck } => 'ack' in e;

/** Reports are coalesced for this long before a `decisions` frame goes out. */
const DEFAULT_OUTBOX_FLUSH_MS = 250;
/**
 * Most `decisions` frames per flush: with the flush interval, at most 8 frames a second, and
 * only while more than a batch is waiting (the gateway's inbound budget: 10 a second, burst 60).
 */
const DEFAULT_OUTBOX_FRAMES_PER_FLUSH = 2;
/**
 * Reports sent and not acknowledged for this long are sent again on the same connection (the
 * gateway acknowledges cumulatively, so one batch it could not take holds back every later one).
 */
const DEFAULT_OUTBOX_RESEND_MS = 15_000;

export interface DecisionOutboxOptions {
  deviceId: string;
  /** The persisted outbox (part of the state file), changed in place; the caller persists. */
  state: Outbox;
  /** Sends a frame on the gateway connection; false when it is not open. */
  send: (frame: DecisionBatch | CommandAckBatch) => boolean;
  logger: Logger;
  now: () => number;
  /** Reports were dropped unacknowledged (already logged at error level). */
  onLoss?: (text: string) => void;
  /** Most reports kept; default KEEP_OUTBOX (1,000). */
  limit?: number;
  flushMs?: number;
  framesPerFlush?: number;
  resendMs?: number;
}

/**
 * The device's decision reports and command acknowledgements until the gateway has put them on
 * the bus: each gets the next sequence number and is kept (in the state file, so a restart keeps
 * it too) until an `ack` covers it; they go out in `decisions` and `command-acks` batches (a run
 * of one kind per frame) while connected, and everything not yet acknowledged is sent again after
 * each hello. At least once: the fleet view drops repeats by sequence number.
 */
export class DecisionOutbox {
  readonly #o: DecisionOutboxOptions;
  /** The first sequence number not yet sent on this connection. */
  #unsent: number;
  /** The connection is open and the hello has gone. */
  #open = false;
  #timer: NodeJS.Timeout | undefined;
  /** Runs when sent reports have waited `resendMs` for an acknowledgement. */
  #resendTimer: NodeJS.Timeout | undefined;
  /** Reports lost since the last acknowledgement (the loss is reported once per run of losses). */
  #losing = 0;

  constructor(o: DecisionOutboxOptions) {
    this.#o = o;
    // A fresh outbox numbers from the clock (ms), so a device whose state file was replaced
    // never reuses sequence numbers the fleet view has already seen.
    if (o.state.next === 0 && o.state.reports.length === 0) o.state.next = o.now();
    this.#unsent = this.#first();
  }

  /** Reports not yet acknowledged. */
  get pending(): number {
    return this.#o.state.reports.length;
  }

  /** Keeps a report and schedules its sending (the caller persists the state). */
  add(decision: DecisionRecord): void {
    this.#add(decision);
  }

  /** Keeps a command acknowledgement and schedules its sending (the caller persists the state). */
  addAck(ack: CommandAck): void {
    this.#add({ ack });
  }

  #add(entry: OutboxEntry): void {
    const box = this.#o.state;
    box.reports.push(entry);
    box.next++;
    const limit = this.#o.limit ?? KEEP_OUTBOX;
    if (box.reports.length > limit) {
      const n = box.reports.length - limit;
      box.reports.splice(0, n);
      box.lost += n;
      this.#unsent = Math.max(this.#unsent, this.#first());
      if (this.#losing === 0) {
        const text = `decision reports not acknowledged by the gateway: the outbox is full (${limit}), oldest dropped (${box.lost} lost in all)`;
        this.#o.logger.error({ lost: box.lost }, text);
        this.#o.onLoss?.(text);
      }
      this.#losing += n;
    }
    this.#schedule();
  }

  /** The connection is open and the hello sent: everything not acknowledged goes (again). */
  connected(): void {
    this.#open = true;
    this.#unsent = this.#first();
    this.flush();
  }

  disconnected(): void {
    this.#open = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearTimeout(this.#resendTimer);
    this.#resendTimer = undefined;
  }

  /**
   * The gateway has every report up to and including `seq` on the bus: they are forgotten.
   * Returns whether anything was (then the caller persists).
   */
  ack(seq: unknown): boolean {
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) return false;
    const box = this.#o.state;
    // Never past what was given out: an ack for a number not yet used would drop future reports.
    const n = Math.min(box.reports.length, seq - this.#first() + 1);
    if (n <= 0) return false;
    box.reports.splice(0, n);
    this.#unsent = Math.max(this.#unsent, this.#first());
    if (this.#losing > 0) {
      this.#o.logger.info({ lost: this.#losing }, 'the gateway acknowledges decision reports again');
      this.#losing = 0;
    }
    clearTimeout(this.#resendTimer); // progress: the wait starts again for what is still out
    this.#resendTimer = undefined;
    this.#watch();
    return true;
  }

  /** Sends up to `framesPerFlush` batches of what has not been sent on this connection. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#open) return;
    const box = this.#o.state;
    const first = this.#first();
    for (let frames = 0; frames < (this.#o.framesPerFlush ?? DEFAULT_OUTBOX_FRAMES_PER_FLUSH); frames++) {
      const from = this.#unsent - first;
      if (from >= box.reports.length) return;
      const frame = this.#frame(from);
      const sent = this.#o.send(frame);
      if (!sent) return; // closed meanwhile: all of it goes again after the next hello
      this.#unsent += frame.type === 'decisions' ? frame.decisions.length : frame.acks.length;
      this.#watch();
    }
    this.#schedule();
  }

  stop(): void {
    this.disconnected();
  }

  /** The next frame from `reports[from]`: a run of one kind, within the batch and size bounds. */
  #frame(from: number): DecisionBatch | CommandAckBatch {
    const box = this.#o.state;
    const base = { deviceId: this.#o.deviceId, seq: this.#unsent };
    if (!isAck(box.reports[from]!)) {
      const decisions: DecisionRecord[] = [];
      for (let i = from; i < box.reports.length && decisions.length < MAX_DECISION_BATCH; i++) {
        const e = box.reports[i]!;
        if (isAck(e)) break;
        decisions.push(e);
      }
      return { type: 'decisions', ...base, decisions };
    }
    const acks: CommandAck[] = [];
    let bytes = 0;
    for (let i = from; i < box.reports.length && acks.length < MAX_COMMAND_ACK_BATCH; i++) {
      const e = box.reports[i]!;
      if (!isAck(e)) break;
      bytes += JSON.stringify(e.ack).length;
      if (acks.length > 0 && bytes > MAX_ACK_FRAME_BYTES) break;
      acks.push(e.ack);
    }
    return { type: 'command-acks', ...base, acks };
  }

  #first(): number {
    return this.#o.state.next - this.#o.state.reports.length;
  }

  /** Sent reports wait at most `resendMs` for an acknowledgement; then all of them go again. */
  #watch(): void {
    if (!this.#open || this.#resendTimer || this.#unsent <= this.#first()) return;
    this.#resendTimer = setTimeout(() => {
      this.#resendTimer = undefined;
      if (!this.#open || this.#unsent <= this.#first()) return;
      this.#o.logger.info(
        { pending: this.pending },
        'decision reports not acknowledged in time: sending them again',
      );
      this.#unsent = this.#first();
      this.flush();
    }, this.#o.resendMs ?? DEFAULT_OUTBOX_RESEND_MS);
    this.#resendTimer.unref();
  }

  #schedule(): void {
    if (!this.#open || this.#timer || this.#unsent >= this.#o.state.next) return;
    this.#timer = setTimeout(() => this.flush(), this.#o.flushMs ?? DEFAULT_OUTBOX_FLUSH_MS);
    this.#timer.unref();
  }
}
