/** The paper exchange in a process of its own, for the client benchmark: prints its URL. */
import pino from 'pino';
import { DEFAULT_MARKETS, createPaperExchange } from '@appliance/paper-exchange';
import { DEFAULT_FILL_COSTS } from '@appliance/trading-core';

const [apiKey, secret] = process.argv.slice(2) as [string, string];
const paper = createPaperExchange({
  markets: DEFAULT_MARKETS,
  costs: DEFAULT_FILL_COSTS,
  logger: pino({ level: 'silent' }),
});
paper.addAccount({ apiKey, secret, balances: { USDT: 100_000_000 } });
paper.onCandle('BTC/USDT', {
  time: 1_700_000_000_000,
  open: 40_000,
  high: 40_000,
  low: 40_000,
  close: 40_000,
  volume: 1,
});
const url = await paper.listen({ port: 0 });
process.stdout.write(`${url}\n`);
process.on('SIGTERM', () => void paper.close().then(() => process.exit(0)));
