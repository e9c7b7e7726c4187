import { errorClass } from '@appliance/errors';
import {
  Backoff,
  createSimulatorResult,
  type BackoffPolicy,
  type Signer,
  type SimulatorDecision,
  type SimulatorResult,
} from '@appliance/protocol';
import type { Logger } from '@appliance/runtime';

/**
 * Hands a run's decisions to the control server: signed with the node's key (domain
 * `simulator-result`), POSTed to `/api/simulator/results`. A refusal (4xx: a bad signature, an
 * unknown key, a replayed run) is final and named with the server's answer; an unreachable
 * server or a 5xx is retried with bounded backoff, since the same signed body may be sent again
 * (the server refuses a run id it already took with 409 `E_REPLAYED`: after a failed attempt
 * that means the earlier attempt was taken, and counts as done; on a first attempt it is a
 * refusal).
 */
const SUBMIT_ERROR_CODES = {
  E_REFUSED: 'the control server refused the decisions',
  E_UNREACHABLE: 'the control server did not answer, or answered 5xx, on every attempt',
} as const;
export type SubmitErrorCode = keyof typeof SUBMIT_ERROR_CODES;
export class SubmitError extends errorClass<SubmitErrorCode>('SubmitError', SUBMIT_ERROR_CODES, {
  retriable: ['E_UNREACHABLE'],
}) {}

const SIMULATOR_RESULTS_PATH = '/api/simulator/results';
const DEFAULT_SUBMIT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, jitter: 'equal' };
/** One attempt's bound, in ms: a hung server is an unreachable one. */
const DEFAULT_SUBMIT_TIMEOUT_MS = 15_000;

export interface SubmitInput {
  runId: string;
  end: number;
  node: string;
  decisions: SimulatorDecision[];
}

export interface SubmitOptions {
  controlUrl: string;
  signer: Signer;
  logger: Logger;
  attempts: number;
  backoff?: BackoffPolicy;
  timeoutMs?: number;
  now?: () => number;
  /** Waits `ms` between attempts; tests pass one that does not sleep. */
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function submitDecisions(input: SubmitInput, options: SubmitOptions): Promise<SimulatorResult> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const backoff = new Backoff(options.backoff ?? DEFAULT_SUBMIT_BACKOFF);
  const url = new URL(SIMULATOR_RESULTS_PATH, options.controlUrl);
  let lastProblem = '';
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    // Signed afresh each attempt: `at` must be recent when the server checks its age.
    const body = createSimulatorResult({ ...input, at: Math.max(now(), input.end) }, options.signer);
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_SUBMIT_TIMEOUT_MS),
      });
    } catch (err) {
      lastProblem = (err as Error).cause ? String((err as Error).cause) : (err as Error).message;
      options.logger.warn({ attempt, url: url.href, err: lastProblem }, 'control server unreachable');
      if (attempt < options.attempts) await sleep(backoff.next());
      continue;
    }
    const text = await response.text().catch(() => '');
    if (response.ok) return body;
    const detail = describeAnswer(response.status, text);
    // An earlier attempt that failed on our side (no answer, a 5xx after the commit) may have
    // been taken: the server then knows the run, and that is what was wanted.
    if (attempt > 1 && response.status === 409 && detail.startsWith('E_REPLAYED')) {
      options.logger.info(
        { attempt, runId: input.runId },
        'an earlier attempt was taken by the control server',
      );
      return body;
    }
    if (response.status < 500 && response.status !== 429 && response.status !== 408)
      throw new SubmitError(
        'E_REFUSED',
        `the control server refused run ${input.runId}: ${response.status} ${detail}`,
      );
    lastProblem = `${response.status} ${detail}`;
    options.logger.warn({ attempt, status: response.status, detail }, 'control server failed; retrying');
    if (attempt < options.attempts) await sleep(backoff.next());
  }
  throw new SubmitError(
    'E_UNREACHABLE',
    `could not submit run ${input.runId} to ${url.href} in ${options.attempts} attempts: ${lastProblem}`,
  );
}

/** The server's `{error: {code, message}}` or `{error, message}` when it sent one, else its text, short. */
function describeAnswer(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const error = body.error as Record<string, unknown> | string | undefined;
    if (error && typeof error === 'object')
      return `${String(error.code ?? '')} ${String(error.message ?? '')}`.trim();
    if (typeof error === 'string')
      return `${error}${typeof body.message === 'string' ? ` ${body.message}` : ''}`;
  } catch {
    // not JSON
  }
  return text.slice(0, 200) || `(HTTP ${status}, no body)`;
}
