/**
 * Wall-clock time in milliseconds with sub-millisecond resolution. `Date.now()` ticks in whole
 * milliseconds, too coarse for loopback latencies. `performance.timeOrigin` is the wall clock
 * (in µs) when this process started and `performance.now()` the monotonic time since, so the
 * sum is comparable between processes on one machine: they differ only by how far the wall
 * clock was slewed between their starts. `calibrate` measures what is left of that.
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export interface ClockOffset {
  /** Other process's clock minus ours, in ms (positive: theirs reads later). */
  offsetMs: number;
  /** Half the fastest round trip: the offset is known to within this. */
  uncertaintyMs: number;
}

/** NTP-style offset from `rounds` round trips to another process, keeping the fastest. */
export async function calibrate(remoteNow: () => Promise<number>, rounds = 30): Promise<ClockOffset> {
  let best: ClockOffset | undefined;
  for (let i = 0; i < rounds; i++) {
    const t0 = now();
    const remote = await remoteNow();
    const t1 = now();
    const sample = { offsetMs: remote - (t0 + t1) / 2, uncertaintyMs: (t1 - t0) / 2 };
    if (!best || sample.uncertaintyMs < best.uncertaintyMs) best = sample;
  }
  return best!;
}
