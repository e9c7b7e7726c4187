// The fields messages are built from, shared by the schema modules beside this one and not
// exported from the package: what a symbol or a signature looks like is said once, here.
import { z } from 'zod';
import { MAX_ELIGIBILITY_REASON_CHARS, MAX_PRICE } from './limits.js';

export const streamName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'stream: lowercase letters, digits, . _ -');
export const symbol = z
  .string()
  .regex(/^[A-Z0-9]{1,20}\/[A-Z0-9]{1,20}$/, 'symbol: unified ccxt form such as BTC/USDT');
export const epochMs = z.number().int().nonnegative();
export const price = z.number().positive().max(MAX_PRICE);
export const kid = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);
export const sig = z.string().regex(/^[A-Za-z0-9_-]{86}$/, 'sig: base64url Ed25519 signature');
export const offset = z.string().regex(/^\d{1,19}$/, 'offset: decimal Kafka offset');
/** A partition of the signals topic, as a record key. */
export const partitionKey = z.string().regex(/^\d{1,5}$/, 'partition: a partition number');
export const deviceId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{2,63}$/, 'deviceId: lowercase letters, digits and -');

/** A simulator run's id: chosen by the simulator node, unique per run (replays are refused). */
export const runId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'runId: letters, digits, . _ : -');
/** Why a symbol is or is not eligible, for people. */
export const eligibilityReason = z.string().min(1).max(MAX_ELIGIBILITY_REASON_CHARS);
