import { z } from 'zod';

/** Where an admin action came from, as the operator sees it after the fact. */
export const RequestOrigin = z.strictObject({
  /** The peer's address (the proxy's, when the server runs behind one). */
  remote: z.string().max(100),
  userAgent: z.string().max(300),
});
export type RequestOrigin = z.infer<typeof RequestOrigin>;

// Control characters would be a way to rewrite an operator's terminal from a User-Agent.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/g;

const clean = (s: string | undefined, max: number) => (s ?? '').replace(CONTROL_CHARS, '?').slice(0, max);

export function originOf(req: { ip: string; headers: { 'user-agent'?: string } }): RequestOrigin {
  return { remote: clean(req.ip, 100), userAgent: clean(req.headers['user-agent'], 300) };
}
