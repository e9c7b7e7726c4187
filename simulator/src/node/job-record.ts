import { sign, verify } from 'node:crypto';
import { z } from 'zod';
import { errorClass } from '@appliance/errors';
import { canonicalBytes, type KeyRing, type Signer } from '@appliance/protocol';
import type { SimJob } from '../jobs.js';
import type { JobResult } from '../worker.js';

/**
 * The records of the job queue (see job-queue.ts): a job unit on `simulator-jobs` and a job's
 * result on `simulator-results`, their wire form, and their signatures.
 *
 * Both kinds of record are signed by the node that wrote them (its Ed25519 key, in domains of
 * their own) and checked against the pinned simulator keys: whoever can write to the bus without
 * one of those keys cannot plant a job or a result that moves an eligibility decision.
 */
const JOB_UNIT_DOMAIN = 'appliance/simulator-job-unit/v1\n';
const JOB_RESULT_DOMAIN = 'appliance/simulator-job-result/v1\n';
/** A record larger than this is refused before it is parsed. A result with curves is about 40 kB. */
const MAX_JOB_RECORD_BYTES = 1_000_000;

const JOB_QUEUE_ERROR_CODES = {
  E_TOO_LARGE: `the record is larger than ${MAX_JOB_RECORD_BYTES} bytes`,
  E_MALFORMED: 'not JSON, or not a simulator job unit or result',
  E_UNKNOWN_KEY: 'signed with a key that is not a pinned simulator node key',
  E_BAD_SIGNATURE: 'the signature does not verify: forged or altered',
  E_RUN_TIMEOUT: "not every job's result came in before the run's deadline",
  E_CLOSED: 'the job queue is closed',
} as const;
export type JobQueueErrorCode = keyof typeof JOB_QUEUE_ERROR_CODES;
export class JobQueueError extends errorClass<JobQueueErrorCode>('JobQueueError', JOB_QUEUE_ERROR_CODES) {}

/** What goes on the jobs topic. `deadline`: when the coordinator stops waiting; later, the unit is skipped. */
export interface JobUnit {
  v: 1;
  runId: string;
  /** Every window of the run ends here (exclusive): a node snapshots its store up to it. */
  end: number;
  coordinator: string;
  deadline: number;
  jobs: SimJob[];
  kid: string;
  sig: string;
}

export interface ResultRecord {
  v: 1;
  runId: string;
  jobId: string;
  /** The node that ran the job. */
  node: string;
  result: JobResult;
  kid: string;
  sig: string;
}

// Non-finite numbers (a Sortino with no downside is Infinity) survive the trip as {"$num": "Infinity"}.
const NON_FINITE = '$num';
function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? { [NON_FINITE]: String(value) } : value;
}
function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const n = (value as Record<string, unknown>)[NON_FINITE];
    if (keys.length === 1 && typeof n === 'string' && ['Infinity', '-Infinity', 'NaN'].includes(n))
      return Number(n);
  }
  return value;
}

/** The wire form: JSON with non-finite numbers encoded, so what is signed is what is sent. */
function wire(value: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value, replacer)) as Record<string, unknown>;
}

function signWire(domain: string, unsigned: Record<string, unknown>, signer: Signer): string {
  return sign(
    null,
    Buffer.concat([Buffer.from(domain), canonicalBytes(unsigned)]),
    signer.privateKey,
  ).toString('base64url');
}

export function encodeUnit(unit: Omit<JobUnit, 'v' | 'kid' | 'sig'>, signer: Signer): string {
  const unsigned = wire({ v: 1, ...unit, kid: signer.kid });
  return JSON.stringify({ ...unsigned, sig: signWire(JOB_UNIT_DOMAIN, unsigned, signer) });
}

export function encodeResult(record: Omit<ResultRecord, 'v' | 'kid' | 'sig'>, signer: Signer): string {
  const unsigned = wire({ v: 1, ...record, kid: signer.kid });
  return JSON.stringify({ ...unsigned, sig: signWire(JOB_RESULT_DOMAIN, unsigned, signer) });
}

const id = z.string().min(1).max(200);
const Signed = { v: z.literal(1), kid: z.string().min(1).max(100), sig: z.string().min(1).max(200) };
const Job = z.looseObject({
  runId: id,
  jobId: id,
  stream: id,
  strategy: id,
  symbol: z.string().regex(/^[A-Z0-9]{1,20}\/[A-Z0-9]{1,20}$/),
  timeframe: z.string().regex(/^[1-9]\d{0,3}[mhd]$/),
  source: z.object({ file: z.string().min(1) }),
  range: z.object({ start: z.number(), end: z.number() }),
});
const UnitSchema = z.strictObject({
  ...Signed,
  runId: id,
  end: z.number().int(),
  coordinator: id,
  deadline: z.number().int(),
  jobs: z.array(Job).min(1).max(10_000),
});
const ResultSchema = z.strictObject({
  ...Signed,
  runId: id,
  jobId: id,
  node: id,
  result: z.looseObject({ jobId: id }),
});

function decode<T>(domain: string, schema: z.ZodType, value: Buffer, keys: KeyRing): T {
  if (value.length > MAX_JOB_RECORD_BYTES)
    throw new JobQueueError('E_TOO_LARGE', `${value.length} bytes, at most ${MAX_JOB_RECORD_BYTES}`);
  let raw: unknown;
  try {
    raw = JSON.parse(value.toString('utf8'));
  } catch {
    throw new JobQueueError('E_MALFORMED', 'not JSON');
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new JobQueueError(
      'E_MALFORMED',
      `${issue?.path.join('.') || 'record'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const { sig, ...unsigned } = raw as Record<string, unknown> & { sig: string; kid: string };
  const key = keys.get(unsigned.kid);
  if (!key) throw new JobQueueError('E_UNKNOWN_KEY', `signed with unknown key ${unsigned.kid}`);
  const ok = verify(
    null,
    Buffer.concat([Buffer.from(domain), canonicalBytes(unsigned)]),
    key,
    Buffer.from(sig, 'base64url'),
  );
  if (!ok) throw new JobQueueError('E_BAD_SIGNATURE', `signature of ${unsigned.kid} does not verify`);
  // Revived only after the check: the signature covers the wire form.
  return JSON.parse(value.toString('utf8'), reviver) as T;
}

export const decodeUnit = (value: Buffer, keys: KeyRing): JobUnit =>
  decode<JobUnit>(JOB_UNIT_DOMAIN, UnitSchema, value, keys);
export const decodeResult = (value: Buffer, keys: KeyRing): ResultRecord =>
  decode<ResultRecord>(JOB_RESULT_DOMAIN, ResultSchema, value, keys);
