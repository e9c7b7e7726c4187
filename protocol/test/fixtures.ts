import { KeyRing, exportPublicKey, generateSigner, type SignalDraft } from '../src/index.js';

/** The protocol tests' clock, a datafeed key made for this run, and a signal draft to vary. */
export const NOW = 1_700_000_000_000;
export const signer = generateSigner();
export const keys = KeyRing.of(exportPublicKey(signer.publicKey));
export const draft: SignalDraft = {
  stream: 'ema-cross.1h',
  symbol: 'BTC/USDT',
  side: 'buy',
  price: 43_000.5,
  candleTime: NOW - 3_600_000,
  ts: NOW,
  ttlMs: 60_000,
  strength: 0.7,
  algoVersion: 'ema-cross-volume/1',
  origin: 'feed-1',
};
