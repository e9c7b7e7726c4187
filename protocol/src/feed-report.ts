import { createHash } from 'node:crypto';
import { ProtocolError } from './errors.js';
import type { KeyRing, Signer } from './keys.js';
import { FeedReport, PROTOCOL_VERSION, type UnsignedFeedReport } from './schemas.js';
import { checkWindow, parseMessage, signMessage, verifySignature, type VerifyOptions } from './signing.js';

/** A feed report's id is a function of (origin, ts): one datafeed signs one report per instant. */
export function feedReportId(origin: string, ts: number): string {
  return createHash('sha256').update(`feed-report\n${origin}\n${ts}`).digest('hex').slice(0, 32);
}

/** A report to sign; `ts` (when it is signed, the end of its period) defaults to now. */
export type FeedReportDraft = Omit<UnsignedFeedReport, 'v' | 'id' | 'kid' | 'ts'> & { ts?: number };

/** Signs a feed report with the datafeed's key (the one that signs its candles; another domain). */
export function createFeedReport(draft: FeedReportDraft, signer: Signer): FeedReport {
  const ts = draft.ts ?? Date.now();
  const unsigned: UnsignedFeedReport = {
    v: PROTOCOL_VERSION,
    id: feedReportId(draft.origin, ts),
    ...draft,
    ts,
    kid: signer.kid,
  };
  return signMessage('feed-report', unsigned, signer);
}

/**
 * Verifies shape, pinned key, signature, id derivation, then the validity window: `ts` may be
 * at most `ttlMs` old and not in the future beyond the clock skew. Throws ProtocolError
 * (E_MALFORMED, E_UNKNOWN_KEY, E_BAD_SIGNATURE, E_BAD_ID, E_EXPIRED, E_NOT_YET_VALID).
 *
 * Unlike a candle, a report has a window: it says "the venue was healthy just now", and a
 * report held back on the bus and delivered later must not mask an outage that came after it.
 * Which report is newest per origin (`ts`) is the reader's to keep.
 */
export function verifyFeedReport(input: unknown, keys: KeyRing, opts: VerifyOptions): FeedReport {
  const report = parseMessage('feed-report', FeedReport, input);
  const { sig, ...unsigned } = report;
  verifySignature('feed-report', unsigned, sig, keys);
  const expected = feedReportId(report.origin, report.ts);
  if (report.id !== expected) {
    throw new ProtocolError('E_BAD_ID', `feed report id ${report.id} is not derived from its origin and ts`, {
      expected,
    });
  }
  checkWindow('feed report', report.ts, report.ttlMs, opts);
  return report;
}
