import { z } from 'zod';
import { EligibilityError } from './eligibility-error.js';

/** The operator's requests: an override, an approval and a rejection of a waiting change. */
const operator = z.string().min(1).max(64).optional();
export const OverrideBody = z.strictObject({
  stream: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'stream: lowercase letters, digits, . _ -'),
  symbol: z.string().regex(/^[A-Z0-9]{1,20}\/[A-Z0-9]{1,20}$/, 'symbol: unified ccxt form such as BTC/USDT'),
  mode: z.enum(['pin', 'block', 'clear']),
  reason: z.string().trim().min(1, 'reason: say why').max(200),
  operator,
});
export const ApproveBody = z.strictObject({ reason: z.string().trim().min(1).max(200).optional(), operator });
export const RejectBody = z.strictObject({
  reason: z.string().trim().min(1, 'reason: say why').max(200),
  operator,
});

/** `input` as `schema` has it, or E_INVALID naming the first wrong field. */
export function parseBody<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const i = parsed.error.issues[0];
  throw new EligibilityError('E_INVALID', `${i?.path.join('.') || 'body'}: ${i?.message ?? 'invalid'}`);
}
