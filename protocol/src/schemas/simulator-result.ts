// What a simulator node submits to the control server.
import { z } from 'zod';
import { eligibilityReason, epochMs, kid, runId, sig, streamName, symbol } from './fields.js';
import { PROTOCOL_VERSION } from './limits.js';

/** Most decisions one simulator submission may carry. */
export const MAX_SIMULATOR_DECISIONS = 2000;

/** Summary numbers of a backtest, for the operator (return, drawdown, trades, ...): shown, not acted on. */
const simulatorMetrics = z
  .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,31}$/), z.number().finite())
  .refine((m) => Object.keys(m).length <= 32, { message: 'at most 32 metrics' });

/** The simulator's verdict on one (stream, symbol). */
export const SimulatorDecision = z.strictObject({
  stream: streamName,
  symbol,
  eligible: z.boolean(),
  reason: eligibilityReason,
  metrics: simulatorMetrics.optional(),
});
export type SimulatorDecision = z.infer<typeof SimulatorDecision>;

const simulatorResultShape = {
  v: z.literal(PROTOCOL_VERSION),
  runId,
  at: epochMs,
  end: epochMs,
  node: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'node: lowercase letters, digits, . _ -'),
  decisions: z.array(SimulatorDecision).min(1).max(MAX_SIMULATOR_DECISIONS),
  kid,
};

/** The checks across fields: the run ends before it is signed, each (stream, symbol) once. */
function checkSimulatorResult(
  r: { at: number; end: number; decisions: SimulatorDecision[] },
  ctx: z.RefinementCtx,
) {
  if (r.end > r.at) ctx.addIssue({ code: 'custom', path: ['end'], message: 'end is after at' });
  const seen = new Set<string>();
  r.decisions.forEach((d, i) => {
    const key = `${d.stream} ${d.symbol}`;
    if (seen.has(key))
      ctx.addIssue({ code: 'custom', path: ['decisions', i], message: `${key} is decided twice` });
    seen.add(key);
  });
}

/**
 * A simulator run's decisions, as a node submits them to the control server (POST
 * /api/simulator/results), signed by the node's key (domain `simulator-result`). `at` is when
 * the node signed it (a stale submission is refused), `end` the time of the last candle the
 * backtests covered. Each (stream, symbol) at most once.
 */
export const UnsignedSimulatorResult = z.strictObject(simulatorResultShape).superRefine(checkSimulatorResult);
export type UnsignedSimulatorResult = z.infer<typeof UnsignedSimulatorResult>;
export const SimulatorResult = z
  .strictObject({ ...simulatorResultShape, sig })
  .superRefine(checkSimulatorResult);
export type SimulatorResult = z.infer<typeof SimulatorResult>;
