/**
 * The part of ccxt this system uses: the binance class, the error classes and the Exchange type,
 * imported from ccxt's own module files instead of its index. `import ccxt from 'ccxt'`
 * evaluates every exchange class ccxt has (over a hundred): under tsx that is about 0.5 s of CPU
 * at every start of every process that trades, and some 28 MiB of memory, for classes nothing
 * here constructs. These are the same module files the index re-exports, so `instanceof` holds
 * against errors thrown by a `binance` made either way.
 *
 * ccxt's package exports only its index, so the files are reached by path from the workspace
 * root's node_modules (npm hoists ccxt there: the lockfile has one copy); the device's bundle
 * (images/build-client.ts) resolves these same files. Pinned to ccxt's layout: a ccxt update that
 * moves them fails typechecking and every test that trades.
 */
import binance from '../../../node_modules/ccxt/js/src/binance.js';
import * as errors from '../../../node_modules/ccxt/js/src/base/errors.js';

export type { Exchange } from '../../../node_modules/ccxt/js/src/base/Exchange.js';

/** The classes as `ccxt.<Name>`, the shape of ccxt's default export, for these classes only. */
export const ccxt = { ...errors, binance };
