import t from 'tap';
import {
  decide,
  WEEKDAYS,
  type Decision,
  type DecisionSignal,
  type DecisionState,
  type ReceivedPolicy,
  type Schedule,
  type ScheduleWindow,
  type UserSettings,
  type Weekday,
} from '../src/index.js';

// ---- a sound baseline: a buy of 100 USDT of BTC at 50,000 on a Wednesday noon in Berlin ----

const at = (iso: string): number => Date.parse(iso);
const NOW = at('2026-06-10T10:00:00Z'); // Wednesday 12:00 CEST

const W = (start: string, end: string, maxSpend: number | null = null, buying = true): ScheduleWindow => ({
  start,
  end,
  maxSpend,
  buying,
});
const week = (days: Partial<Record<Weekday, ScheduleWindow[]>>): Schedule => ({
  mon: [],
  tue: [],
  wed: [],
  thu: [],
  fri: [],
  sat: [],
  sun: [],
  ...days,
});
const everyDay = (...windows: ScheduleWindow[]): Schedule =>
  week(Object.fromEntries(WEEKDAYS.map((d) => [d, windows])));
const allDayOpen = everyDay(W('00:00', '24:00'));

const weekdayNight = [W('07:00', '22:00', 300), W('22:00', '07:00', null, false)];
const SCHEDULE = week({
  mon: weekdayNight,
  tue: weekdayNight,
  wed: weekdayNight,
  thu: weekdayNight,
  fri: [W('07:00', '22:00', 300), W('22:00', '24:00', null, false)],
  sat: [W('00:00', '24:00', 150)],
  sun: [W('00:00', '22:00', 150), W('22:00', '07:00', null, false)],
});

const SIGNAL: DecisionSignal = {
  id: 'sig-1',
  stream: 'ema',
  symbol: 'BTC/USDT',
  side: 'buy',
  price: 50_000,
  ts: NOW - 1_000,
  ttlMs: 60_000,
  authenticity: 'verified',
};

const MARKET = { amountStep: 0.00001, priceTick: 0.01, minAmount: 0.00001, minNotional: 5 };

const STATE: DecisionState = {
  quote: 'USDT',
  quoteFree: 10_000,
  holdings: {},
  marks: { 'BTC/USDT': 50_000 },
  marketPrice: 50_000,
  seedEquity: 10_000,
  dayStartEquity: 10_000,
  spends: [],
  lastHeartbeatAt: NOW - 10_000,
  breaker: { level: 'normal', multiplier: 1 },
  eligibility: { ema: ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'DOGE/USDT'] },
  market: MARKET,
};

const POLICY = {
  schema: 1 as const,
  orderQuote: 100,
  maxOrderQuote: 200,
  maxSpendPerDay: 500,
  maxExposurePct: 0.1,
  maxOpenPositions: 3,
  cashReservePct: 0.2,
  maxDrawdownPct: 0.25,
  dailyLossLimitPct: 0.05,
  heartbeatTimeoutMs: 300_000,
  costBufferBps: 50,
  maxPriceDeviationPct: 0.01,
  schedule: SCHEDULE,
};

const SETTINGS: UserSettings = { timeZone: 'Europe/Berlin', streams: [], paused: false };

interface Case {
  name: string;
  signal?: Partial<DecisionSignal>;
  state?: Partial<DecisionState>;
  /** A delta on the policy, or the whole policy (null, or another format) when `policyIs` is set. */
  policy?: Partial<typeof POLICY>;
  policyIs?: ReceivedPolicy | null;
  settings?: Partial<UserSettings>;
  /** Defaults to NOW; the signal is issued 1 s before it and the heartbeat 10 s before, unless overridden. */
  now?: number;
  expect: Decision;
}

const buy = (amount: number, quote: number, notes: string[] = [], price = 50_000): Decision => ({
  accept: true,
  side: 'buy',
  amount,
  price,
  quote,
  notes,
});
const sell = (amount: number, quote: number, notes: string[] = [], price = 50_000): Decision => ({
  accept: true,
  side: 'sell',
  amount,
  price,
  quote,
  notes,
});
const no = (code: string, reason: string): Decision => ({ accept: false, code, reason }) as Decision;
const spend = (iso: string, quote: number) => ({ ts: at(iso), quote });
const MIN = "below the exchange's minimum order for BTC/USDT (5.00 USDT)";
const BAD = 'The device could not decide: ';
const SELL = { side: 'sell' as const };
const HOLD_BTC = { holdings: { BTC: 0.05 } };
const SOLD = sell(0.05, 2500);

// ---- the cases ----

const CASES: Case[] = [
  // baseline
  { name: 'a sound buy is accepted at the order size', expect: buy(0.002, 100) },
  { name: 'a sound sell sells everything held', signal: SELL, state: HOLD_BTC, expect: SOLD },

  // authenticity comes first, for buys and sells alike
  {
    name: 'a bad signature is passed through as E_BAD_SIGNATURE',
    signal: { authenticity: 'E_BAD_SIGNATURE' },
    expect: no('E_BAD_SIGNATURE', 'The signal was ignored: its signature does not verify'),
  },
  {
    name: 'an unknown key is passed through as E_UNKNOWN_KEY, even for a sell',
    signal: { authenticity: 'E_UNKNOWN_KEY', side: 'sell' },
    state: HOLD_BTC,
    expect: no('E_UNKNOWN_KEY', 'The signal was ignored: it is signed with a key this device does not trust'),
  },
  {
    name: 'a replayed signal is passed through as E_REPLAYED',
    signal: { authenticity: 'E_REPLAYED' },
    expect: no('E_REPLAYED', 'The signal was ignored: it was received before'),
  },
  {
    name: 'a malformed signal is passed through as E_MALFORMED, before its bad price is looked at',
    signal: { authenticity: 'E_MALFORMED', price: NaN },
    expect: no('E_MALFORMED', 'The signal was ignored: it is not in the expected format'),
  },
  {
    name: 'an expiry found by the protocol layer is passed through as E_EXPIRED',
    signal: { authenticity: 'E_EXPIRED' },
    expect: no('E_EXPIRED', 'The signal was ignored: it arrived after it expired'),
  },
  {
    name: 'a protocol code this table does not know is still passed through',
    signal: { authenticity: 'E_SOMETHING_NEW' },
    expect: no(
      'E_SOMETHING_NEW',
      'The signal was ignored: it failed its authenticity check (E_SOMETHING_NEW)',
    ),
  },
  {
    name: 'a signal is still valid at exactly ts + ttlMs',
    signal: { ts: NOW - 60_000 },
    expect: buy(0.002, 100),
  },
  {
    name: 'a signal verified earlier is expired by its ttl one millisecond later',
    signal: { ts: NOW - 60_001 },
    expect: no('E_EXPIRED', 'The signal was ignored: it expired 1 ms ago'),
  },
  {
    name: 'an expired sell is rejected too',
    signal: { ...SELL, ts: NOW - 150_000 },
    state: HOLD_BTC,
    expect: no('E_EXPIRED', 'The signal was ignored: it expired 1 min 30 s ago'),
  },

  // bad input is a rejection, never an exception
  {
    name: 'a NaN price is bad input',
    signal: { price: NaN },
    expect: no('R_BAD_INPUT', `${BAD}the signal price is not a positive number (NaN)`),
  },
  {
    name: 'an unknown time zone is bad input for a buy',
    settings: { timeZone: 'Mars/Olympus_Mons' },
    expect: no('R_BAD_INPUT', `${BAD}the time zone "Mars/Olympus_Mons" in your settings is not known`),
  },
  {
    name: 'an unknown time zone does not stop a sell',
    signal: SELL,
    state: HOLD_BTC,
    settings: { timeZone: 'Mars/Olympus_Mons' },
    expect: SOLD,
  },
  {
    name: 'a signal in another quote currency is bad input',
    signal: { symbol: 'BTC/EUR' },
    expect: no('R_BAD_INPUT', `${BAD}the signal is priced in EUR, but this device trades in USDT`),
  },
  {
    name: 'a NaN quote balance is bad input for a buy',
    state: { quoteFree: NaN },
    expect: no('R_BAD_INPUT', `${BAD}the free USDT balance is not a number of at least 0 (NaN)`),
  },
  {
    name: 'a policy with a negative daily limit is bad input',
    policy: { maxSpendPerDay: -1 },
    expect: no(
      'R_BAD_INPUT',
      `${BAD}the spending policy is invalid (maxSpendPerDay: Too small: expected number to be >=0)`,
    ),
  },
  {
    name: 'a local window that starts and ends at the same minute is bad input',
    settings: { schedule: week({ wed: [W('08:00', '08:00')] }) },
    expect: no(
      'R_BAD_INPUT',
      `${BAD}your settings are invalid (schedule.wed.0: a window must not start and end at the same time)`,
    ),
  },

  // followed streams
  {
    name: 'a signal of a stream the device does not follow is rejected',
    settings: { streams: ['breakout'] },
    expect: no('R_NOT_FOLLOWED', 'This device does not follow the stream "ema"'),
  },
  {
    name: 'an unfollowed stream stops a sell too',
    signal: SELL,
    state: HOLD_BTC,
    settings: { streams: ['breakout'] },
    expect: no('R_NOT_FOLLOWED', 'This device does not follow the stream "ema"'),
  },
  {
    name: 'a signal of a followed stream is accepted',
    settings: { streams: ['breakout', 'ema'] },
    expect: buy(0.002, 100),
  },

  // fail-safe conditions stop buys, never sells
  {
    name: 'a paused device does not buy',
    settings: { paused: true },
    expect: no('R_PAUSED', 'Buying is paused in your settings'),
  },
  {
    name: 'a paused device still sells',
    signal: SELL,
    state: HOLD_BTC,
    settings: { paused: true },
    expect: SOLD,
  },
  {
    name: "an operator's halt stops buying, with its reason",
    state: { fleetHalt: { reason: 'exchange outage' } },
    expect: no('R_FLEET_HALT', 'Buying is halted by the operator: exchange outage'),
  },
  {
    name: "an operator's halt without a readable reason still stops buying",
    state: { fleetHalt: { reason: '  ' } },
    expect: no('R_FLEET_HALT', 'Buying is halted by the operator: no reason given'),
  },
  {
    name: "an operator's halt comes before an unknown policy or breaker",
    state: { fleetHalt: { reason: 'flat all' }, breaker: null },
    policyIs: null,
    expect: no('R_FLEET_HALT', 'Buying is halted by the operator: flat all'),
  },
  {
    name: "the user's pause is named before an operator's halt",
    state: { fleetHalt: { reason: 'flat all' } },
    settings: { paused: true },
    expect: no('R_PAUSED', 'Buying is paused in your settings'),
  },
  {
    name: "an operator's halt still lets the device sell",
    signal: SELL,
    state: { ...HOLD_BTC, fleetHalt: { reason: 'flat all' } },
    expect: SOLD,
  },
  {
    name: 'no fleet halt (null) changes nothing',
    state: { fleetHalt: null },
    expect: buy(0.002, 100),
  },
  {
    name: 'without a policy the device does not buy',
    policyIs: null,
    expect: no('R_NO_POLICY', 'Buying is off: no spending policy from the control server is known yet'),
  },
  {
    name: 'a policy of an unknown format stops buying',
    policyIs: { schema: 2, somethingNew: true },
    expect: no(
      'R_POLICY_VERSION',
      'Buying is off: the spending policy is in format 2, which this device does not understand; it needs an update',
    ),
  },
  {
    name: 'without a policy the device still sells',
    signal: SELL,
    state: HOLD_BTC,
    policyIs: null,
    expect: SOLD,
  },
  {
    name: 'an unknown breaker state stops buying',
    state: { breaker: null },
    expect: no(
      'R_BREAKER_UNKNOWN',
      'Buying is off: the state of the central circuit breaker is not known yet',
    ),
  },
  {
    name: 'a breaker at halt stops buying',
    state: { breaker: { level: 'halt', multiplier: 0 } },
    expect: no('R_HALT', 'Buying is halted by the circuit breaker (whole market)'),
  },
  {
    name: 'a breaker at halt says why in its reason',
    state: { breaker: { level: 'halt', multiplier: 0, reason: '6 of 7 assets down together' } },
    expect: no(
      'R_HALT',
      'Buying is halted by the circuit breaker (whole market): 6 of 7 assets down together',
    ),
  },
  {
    name: 'a breaker at halt still lets the device sell',
    signal: SELL,
    state: { ...HOLD_BTC, breaker: { level: 'halt', multiplier: 0 } },
    expect: SOLD,
  },
  {
    name: 'a breaker at caution halves the buy',
    state: { breaker: { level: 'caution', multiplier: 0.5 } },
    expect: buy(0.001, 50, ['caution: size x0.5']),
  },
  {
    name: 'a breaker at caution that cuts the buy below the minimum rejects it as R_CAUTION',
    state: { breaker: { level: 'caution', multiplier: 0.01 } },
    expect: no(
      'R_CAUTION',
      `The circuit breaker is at caution and cut the order to 1.00 USDT (size x0.01), ${MIN}`,
    ),
  },
  {
    name: 'a multiplier sent with a normal breaker does not scale the buy',
    state: { breaker: { level: 'normal', multiplier: 0.5 } },
    expect: buy(0.002, 100),
  },
  {
    name: 'without any heartbeat yet the device does not buy',
    state: { lastHeartbeatAt: null },
    expect: no('R_NO_HEARTBEAT', 'Buying is off: no heartbeat from the control server has been received yet'),
  },
  {
    name: 'a heartbeat exactly heartbeatTimeoutMs old still allows buying',
    state: { lastHeartbeatAt: NOW - 300_000 },
    expect: buy(0.002, 100),
  },
  {
    name: 'a heartbeat one millisecond older than the timeout stops buying',
    state: { lastHeartbeatAt: NOW - 300_001 },
    expect: no(
      'R_NO_HEARTBEAT',
      'Buying is off: nothing has been heard from the control server for more than 5 min',
    ),
  },
  {
    name: 'the dead-man switch does not stop a sell',
    signal: SELL,
    state: { ...HOLD_BTC, lastHeartbeatAt: null },
    expect: SOLD,
  },
  {
    name: 'a shorter local heartbeat timeout applies',
    state: { lastHeartbeatAt: NOW - 61_000 },
    settings: { heartbeatTimeoutMs: 60_000 },
    expect: no(
      'R_NO_HEARTBEAT',
      'Buying is off: nothing has been heard from the control server for more than 1 min',
    ),
  },
  {
    name: 'a longer local heartbeat timeout is ignored',
    state: { lastHeartbeatAt: NOW - 300_001 },
    settings: { heartbeatTimeoutMs: 600_000 },
    expect: no(
      'R_NO_HEARTBEAT',
      'Buying is off: nothing has been heard from the control server for more than 5 min',
    ),
  },
  {
    name: 'a held asset without a price stops buying, since equity is unknown',
    state: { holdings: { ETH: 1 } },
    expect: no(
      'R_NO_MARK',
      "Buying is off: there is no current price for ETH, so the portfolio's value is unknown",
    ),
  },

  // the signal's price against the exchange's (issue #8: caps must bind what is paid)
  {
    name: "a buy signed at a tenth of the exchange's price is refused, not sized at it",
    signal: { price: 5_000 },
    state: { marketPrice: 50_000 },
    expect: no(
      'R_PRICE_DEVIATION',
      "The signal's price of 5000 USDT is 90% below the exchange's current price of 50000 USDT; the most allowed is 1%, so it was not acted on",
    ),
  },
  {
    name: "a buy signed 2% above the exchange's price is refused",
    signal: { price: 51_000 },
    state: { marketPrice: 50_000 },
    expect: no(
      'R_PRICE_DEVIATION',
      "The signal's price of 51000 USDT is 2% above the exchange's current price of 50000 USDT; the most allowed is 1%, so it was not acted on",
    ),
  },
  {
    name: "a buy signed exactly 1% from the exchange's price is accepted, at the exchange's price",
    signal: { price: 49_500 },
    state: { marketPrice: 50_000 },
    expect: buy(0.002, 100),
  },
  {
    name: 'a deviation a hair over the limit is refused and never reads as the limit itself',
    signal: { price: 49_499.99 },
    state: { marketPrice: 50_000 },
    expect: no(
      'R_PRICE_DEVIATION',
      "The signal's price of 49499.99 USDT is more than 1% below the exchange's current price of 50000 USDT; the most allowed is 1%, so it was not acted on",
    ),
  },
  {
    name: "a buy is sized and priced at the exchange's price, not the signal's",
    signal: { price: 40_300 },
    state: { marketPrice: 40_000 },
    expect: buy(0.0025, 100, [], 40_000),
  },
  {
    name: "without the exchange's price no buy is placed",
    state: { marketPrice: null },
    expect: no(
      'R_NO_MARKET_PRICE',
      "Buying is off: the exchange's current price for BTC/USDT is not known, so the signal's price cannot be checked against it",
    ),
  },
  {
    name: 'a tighter local price deviation applies',
    signal: { price: 49_700 },
    state: { marketPrice: 50_000 },
    settings: { maxPriceDeviationPct: 0.005 },
    expect: no(
      'R_PRICE_DEVIATION',
      "The signal's price of 49700 USDT is 0.6% below the exchange's current price of 50000 USDT; the most allowed is 0.5%, so it was not acted on",
    ),
  },
  {
    name: 'a looser local price deviation is ignored',
    signal: { price: 48_000 },
    state: { marketPrice: 50_000 },
    settings: { maxPriceDeviationPct: 0.05 },
    expect: no(
      'R_PRICE_DEVIATION',
      "The signal's price of 48000 USDT is 4% below the exchange's current price of 50000 USDT; the most allowed is 1%, so it was not acted on",
    ),
  },
  {
    name: "a wider deviation in the policy applies, and the buy is still at the exchange's price",
    signal: { price: 48_000 },
    state: { marketPrice: 50_000 },
    policy: { maxPriceDeviationPct: 0.05 },
    expect: buy(0.002, 100),
  },
  {
    name: 'a policy deviation above 20% is bad input',
    policy: { maxPriceDeviationPct: 0.5 },
    expect: no(
      'R_BAD_INPUT',
      `${BAD}the spending policy is invalid (maxPriceDeviationPct: Too big: expected number to be <=0.2)`,
    ),
  },
  {
    name: "a held coin is valued at the exchange's price, never at the signal's",
    signal: { price: 50_400 },
    state: {
      quoteFree: 10_000,
      holdings: { BTC: 0.1 },
      marks: {},
      marketPrice: 50_000,
      seedEquity: 15_000,
      dayStartEquity: 15_000,
    },
    expect: no(
      'R_EXPOSURE',
      'BTC already makes up 33.33% of the portfolio; the most allowed per coin is 10%',
    ),
  },
  {
    name: "a sell signed far below the exchange's price still sells, valued at the exchange's price",
    signal: { ...SELL, price: 5_000 },
    state: { ...HOLD_BTC, marketPrice: 50_000 },
    expect: SOLD,
  },
  {
    name: "a sell without the exchange's price still sells, at the signal's price",
    signal: SELL,
    state: { ...HOLD_BTC, marketPrice: null },
    expect: SOLD,
  },
  {
    name: "a sell with an unusable exchange price still sells, at the signal's price",
    signal: { ...SELL, price: 30_000 },
    state: { ...HOLD_BTC, marketPrice: NaN },
    expect: sell(0.05, 1500, [], 30_000),
  },

  // numbers beyond any real market are bad input, never an order size or a valuation
  {
    name: 'a signal price of 1e308 is bad input',
    signal: { price: 1e308 },
    expect: no('R_BAD_INPUT', `${BAD}the signal price 1e+308 is above the largest accepted (1000000000)`),
  },
  {
    name: 'a sell signal price above 1e9 is bad input too',
    signal: { ...SELL, price: 1_000_000_001 },
    state: HOLD_BTC,
    expect: no('R_BAD_INPUT', `${BAD}the signal price 1000000001 is above the largest accepted (1000000000)`),
  },
  {
    name: 'an exchange price that is not a usable number is bad input for a buy',
    state: { marketPrice: Infinity },
    expect: no(
      'R_BAD_INPUT',
      `${BAD}the exchange's price is not a positive number of at most 1000000000 (Infinity)`,
    ),
  },
  {
    name: 'a mark above 1e9 is bad input',
    state: { marks: { 'BTC/USDT': 2e9 } },
    expect: no(
      'R_BAD_INPUT',
      `${BAD}the price of BTC/USDT 2000000000 is above the largest accepted (1000000000)`,
    ),
  },
  {
    name: 'a free balance above 1e12 is bad input',
    state: { quoteFree: 2e12 },
    expect: no(
      'R_BAD_INPUT',
      `${BAD}the free USDT balance 2000000000000 is above the largest accepted (1000000000000)`,
    ),
  },
  {
    name: 'a holding above 1e15 is bad input, for a sell too',
    signal: SELL,
    state: { holdings: { BTC: 2e15 } },
    expect: no(
      'R_BAD_INPUT',
      `${BAD}the held amount of BTC 2000000000000000 is above the largest accepted (1000000000000000)`,
    ),
  },
  {
    name: 'an order size above 1e12 in the policy is bad input',
    policy: { orderQuote: 2e12 },
    expect: no(
      'R_BAD_INPUT',
      `${BAD}the spending policy is invalid (orderQuote: Too big: expected number to be <=1000000000000)`,
    ),
  },

  // kill switches on losses
  {
    name: 'a drawdown of exactly 25% still allows buying',
    state: { quoteFree: 7_500, dayStartEquity: 7_500 },
    expect: buy(0.002, 100),
  },
  {
    name: 'a drawdown a cent beyond 25% stops buying',
    state: { quoteFree: 7_499.99, dayStartEquity: 7_500 },
    expect: no(
      'R_DRAWDOWN',
      'Buying is off: the portfolio is worth 7499.99 USDT, more than 25% below its starting value of 10000.00 USDT',
    ),
  },
  {
    name: 'drawdown counts held assets at their marks',
    state: { quoteFree: 7_000, holdings: { ETH: 1 }, marks: { 'ETH/USDT': 400 }, dayStartEquity: 7_400 },
    expect: no(
      'R_DRAWDOWN',
      'Buying is off: the portfolio is worth 7400.00 USDT, more than 25% below its starting value of 10000.00 USDT',
    ),
  },
  {
    name: 'the drawdown kill switch does not stop a sell',
    signal: SELL,
    state: { ...HOLD_BTC, quoteFree: 1_000, dayStartEquity: 3_500 },
    expect: SOLD,
  },
  {
    name: 'a tighter local drawdown limit applies',
    state: { quoteFree: 8_999, dayStartEquity: 8_999 },
    settings: { maxDrawdownPct: 0.1 },
    expect: no(
      'R_DRAWDOWN',
      'Buying is off: the portfolio is worth 8999.00 USDT, more than 10% below its starting value of 10000.00 USDT',
    ),
  },
  {
    name: 'a looser local drawdown limit is ignored',
    state: { quoteFree: 7_000, dayStartEquity: 7_000 },
    settings: { maxDrawdownPct: 0.5 },
    expect: no(
      'R_DRAWDOWN',
      'Buying is off: the portfolio is worth 7000.00 USDT, more than 25% below its starting value of 10000.00 USDT',
    ),
  },
  {
    name: 'a loss of exactly the daily limit still allows buying',
    state: { quoteFree: 9_500 },
    expect: buy(0.002, 100),
  },
  {
    name: 'a loss beyond the daily limit stops buying for the day',
    state: { quoteFree: 9_499 },
    expect: no(
      'R_DAILY_LOSS',
      'Buying is off for today: the portfolio is worth 9499.00 USDT, more than 5% below the 10000.00 USDT it was worth at the start of the day',
    ),
  },
  {
    name: 'a tighter local daily loss limit applies',
    state: { quoteFree: 9_899 },
    settings: { dailyLossLimitPct: 0.01 },
    expect: no(
      'R_DAILY_LOSS',
      'Buying is off for today: the portfolio is worth 9899.00 USDT, more than 1% below the 10000.00 USDT it was worth at the start of the day',
    ),
  },

  // eligibility
  {
    name: 'a symbol not on the eligibility list is not bought',
    signal: { symbol: 'PEPE/USDT', price: 0.00001 },
    expect: no(
      'R_NOT_ELIGIBLE',
      'PEPE/USDT is not on the current list of eligible coins for the stream "ema"',
    ),
  },
  {
    name: 'without any eligibility lists the device does not buy',
    state: { eligibility: null },
    expect: no(
      'R_NO_ELIGIBILITY',
      'Buying is off: no list of eligible coins for the stream "ema" has been received yet',
    ),
  },
  {
    name: 'without an eligibility list for this stream the device does not buy',
    state: { eligibility: { breakout: ['BTC/USDT'] } },
    expect: no(
      'R_NO_ELIGIBILITY',
      'Buying is off: no list of eligible coins for the stream "ema" has been received yet',
    ),
  },
  {
    name: 'an ineligible symbol can still be sold',
    signal: { side: 'sell', symbol: 'PEPE/USDT', price: 0.00001 },
    state: { holdings: { PEPE: 2_000_000 }, eligibility: null, market: { ...MARKET, priceTick: 0.00000001 } },
    expect: sell(2_000_000, 20, [], 0.00001),
  },

  // the central schedule in Berlin, at window edges
  {
    name: 'a weekday buy a minute before the evening cut-off is accepted',
    now: at('2026-06-10T19:59:00Z'),
    expect: buy(0.002, 100),
  },
  {
    name: 'a weekday buy at the first minute of the night window is off',
    now: at('2026-06-10T20:00:00Z'),
    expect: no('R_SCHEDULE_OFF', 'Buying is off on Wednesdays from 22:00 to 07:00 in the central schedule'),
  },
  {
    name: 'the night window crosses midnight: Thursday 06:59 is still Wednesday night',
    now: at('2026-06-11T04:59:00Z'),
    expect: no('R_SCHEDULE_OFF', 'Buying is off on Wednesdays from 22:00 to 07:00 in the central schedule'),
  },
  {
    name: 'a buy at the first minute of the day window is accepted',
    now: at('2026-06-11T05:00:00Z'),
    expect: buy(0.002, 100),
  },
  {
    name: 'a buy a minute after the day window opened is accepted',
    now: at('2026-06-11T05:01:00Z'),
    expect: buy(0.002, 100),
  },
  {
    name: 'Monday before 07:00 is covered by Sunday night, where buying is off',
    now: at('2026-06-15T04:30:00Z'),
    expect: no('R_SCHEDULE_OFF', 'Buying is off on Sundays from 22:00 to 07:00 in the central schedule'),
  },
  {
    name: 'Friday night has its own window that ends at midnight',
    now: at('2026-06-12T21:00:00Z'),
    expect: no('R_SCHEDULE_OFF', 'Buying is off on Fridays from 22:00 to 24:00 in the central schedule'),
  },
  {
    name: 'on Saturday the smaller weekend window limit applies',
    now: at('2026-06-13T21:30:00Z'),
    state: { spends: [spend('2026-06-13T08:00:00Z', 100)] },
    expect: buy(0.001, 50, ['window limit: size cut to 50.00 USDT']),
  },
  {
    name: 'a time no window covers has buying off',
    policy: { schedule: week({ mon: [W('00:00', '24:00')] }) },
    expect: no(
      'R_OUTSIDE_WINDOWS',
      'Buying is off at this time: the central schedule has no buying window on Wednesday at 12:00',
    ),
  },
  {
    name: 'a window whose limit is used up rejects the buy',
    state: { spends: [spend('2026-06-10T05:00:00Z', 200), spend('2026-06-10T09:00:00Z', 100)] },
    expect: no(
      'R_WINDOW_LIMIT',
      'The spending limit of the buying window on Wednesdays from 07:00 to 22:00 in the central schedule is used up: 300.00 of 300.00 USDT spent',
    ),
  },
  {
    name: 'a window with less than the minimum left rejects the buy and says so',
    state: { spends: [spend('2026-06-10T09:00:00Z', 297)] },
    expect: no(
      'R_WINDOW_LIMIT',
      `Only 3.00 USDT of the 300.00 USDT limit is left in the buying window on Wednesdays from 07:00 to 22:00 in the central schedule, ${MIN}`,
    ),
  },
  {
    name: 'a window with some room left cuts the buy down to it',
    state: { spends: [spend('2026-06-10T09:00:00Z', 250)] },
    expect: buy(0.001, 50, ['window limit: size cut to 50.00 USDT']),
  },
  {
    name: "yesterday's instance of the same window does not count",
    state: { spends: [spend('2026-06-09T09:00:00Z', 300)] },
    expect: buy(0.002, 100),
  },
  {
    name: 'spends before midnight count in a window that crosses midnight',
    policy: { schedule: week({ fri: [W('22:00', '02:00', 100)] }) },
    now: at('2026-06-12T23:30:00Z'), // Saturday 01:30 CEST
    state: { spends: [spend('2026-06-12T21:00:00Z', 80)] }, // Friday 23:00 CEST
    expect: buy(0.0004, 20, ['window limit: size cut to 20.00 USDT']),
  },
  {
    name: 'a window that crosses midnight ends at its end minute on the next day',
    policy: { schedule: week({ fri: [W('22:00', '02:00', 100)] }) },
    now: at('2026-06-13T00:00:00Z'), // Saturday 02:00 CEST
    expect: no(
      'R_OUTSIDE_WINDOWS',
      'Buying is off at this time: the central schedule has no buying window on Saturday at 02:00',
    ),
  },

  // the daily limit, on the local calendar day
  {
    name: 'a used-up daily limit rejects the buy',
    policy: { schedule: allDayOpen },
    state: { spends: [spend('2026-06-09T22:30:00Z', 300), spend('2026-06-10T08:00:00Z', 200)] },
    expect: no('R_DAILY_LIMIT', "Today's spending limit is used up: 500.00 of 500.00 USDT spent"),
  },
  {
    name: 'a daily limit with some room left cuts the buy down to it',
    policy: { schedule: allDayOpen },
    state: { spends: [spend('2026-06-10T08:00:00Z', 440)] },
    expect: buy(0.0012, 60, ['daily limit: size cut to 60.00 USDT']),
  },
  {
    name: 'a daily limit with less than the minimum left rejects the buy and says so',
    policy: { schedule: allDayOpen },
    state: { spends: [spend('2026-06-10T08:00:00Z', 496)] },
    expect: no('R_DAILY_LIMIT', `Only 4.00 USDT of today's 500.00 USDT spending limit is left, ${MIN}`),
  },
  {
    name: 'in Los Angeles the daily limit resets at local midnight',
    policy: { schedule: allDayOpen },
    settings: { timeZone: 'America/Los_Angeles' },
    now: at('2026-06-10T07:30:00Z'), // Wednesday 00:30 PDT
    state: { spends: [spend('2026-06-10T06:30:00Z', 500)] }, // Tuesday 23:30 PDT
    expect: buy(0.002, 100),
  },
  {
    name: 'in Los Angeles the daily limit does not reset at UTC midnight',
    policy: { schedule: allDayOpen },
    settings: { timeZone: 'America/Los_Angeles' },
    now: at('2026-06-10T00:30:00Z'), // Tuesday 17:30 PDT
    state: { spends: [spend('2026-06-09T23:30:00Z', 500)] }, // Tuesday 16:30 PDT
    expect: no('R_DAILY_LIMIT', "Today's spending limit is used up: 500.00 of 500.00 USDT spent"),
  },
  {
    name: 'in Auckland the daily limit resets at local midnight',
    policy: { schedule: allDayOpen },
    settings: { timeZone: 'Pacific/Auckland' },
    now: at('2026-06-10T12:30:00Z'), // Thursday 00:30 NZST
    state: { spends: [spend('2026-06-10T11:30:00Z', 500)] }, // Wednesday 23:30 NZST
    expect: buy(0.002, 100),
  },
  {
    name: 'in Auckland a spend on the previous UTC day counts on the same local day',
    policy: { schedule: allDayOpen },
    settings: { timeZone: 'Pacific/Auckland' },
    now: at('2026-06-10T00:30:00Z'), // Wednesday 12:30 NZST
    state: { spends: [spend('2026-06-09T23:30:00Z', 500)] }, // Wednesday 11:30 NZST
    expect: no('R_DAILY_LIMIT', "Today's spending limit is used up: 500.00 of 500.00 USDT spent"),
  },
  {
    name: 'a spend stamped after now (the clock went back) still counts',
    policy: { schedule: allDayOpen },
    state: { spends: [spend('2026-06-11T10:00:00Z', 500)] },
    expect: no('R_DAILY_LIMIT', "Today's spending limit is used up: 500.00 of 500.00 USDT spent"),
  },

  // DST: Europe/Berlin springs forward on 2026-03-29 02:00 -> 03:00
  {
    name: 'Berlin spring-forward: a window containing the skipped hour is one instance across it',
    policy: { schedule: week({ sun: [W('01:00', '04:00', 150)] }) },
    now: at('2026-03-29T01:00:00Z'), // 03:00 CEST, the minute after 01:59 CET
    state: { spends: [spend('2026-03-29T00:30:00Z', 100)] }, // 01:30 CET
    expect: buy(0.001, 50, ['window limit: size cut to 50.00 USDT']),
  },
  {
    name: 'Berlin spring-forward: at 01:59 a window starting at 03:00 is not open yet',
    policy: { schedule: week({ sun: [W('03:00', '05:00')] }) },
    now: at('2026-03-29T00:59:00Z'),
    expect: no(
      'R_OUTSIDE_WINDOWS',
      'Buying is off at this time: the central schedule has no buying window on Sunday at 01:59',
    ),
  },
  {
    name: 'Berlin spring-forward: one real minute later the clock reads 03:00 and the window is open',
    policy: { schedule: week({ sun: [W('03:00', '05:00')] }) },
    now: at('2026-03-29T01:00:00Z'),
    expect: buy(0.002, 100),
  },
  {
    name: 'Berlin spring-forward: a window ending at 04:00 is open at 03:59 CEST',
    policy: { schedule: week({ sun: [W('01:00', '04:00')] }) },
    now: at('2026-03-29T01:59:00Z'),
    expect: buy(0.002, 100),
  },
  {
    name: 'Berlin spring-forward: a window ending at 04:00 is closed at 04:00 CEST',
    policy: { schedule: week({ sun: [W('01:00', '04:00')] }) },
    now: at('2026-03-29T02:00:00Z'),
    expect: no(
      'R_OUTSIDE_WINDOWS',
      'Buying is off at this time: the central schedule has no buying window on Sunday at 04:00',
    ),
  },

  // DST: Europe/Berlin falls back on 2026-10-25 03:00 -> 02:00
  {
    name: 'Berlin fall-back: the repeated hour is one window instance, so its first pass counts',
    policy: { schedule: week({ sun: [W('02:00', '03:00', 100)] }) },
    now: at('2026-10-25T01:30:00Z'), // 02:30 CET, the second pass
    state: { spends: [spend('2026-10-25T00:30:00Z', 80)] }, // 02:30 CEST, the first pass
    expect: buy(0.0004, 20, ['window limit: size cut to 20.00 USDT']),
  },
  {
    name: 'Berlin fall-back: the window is closed a minute before its first 02:00',
    policy: { schedule: week({ sun: [W('02:00', '03:00')] }) },
    now: at('2026-10-24T23:59:00Z'), // 01:59 CEST
    expect: no(
      'R_OUTSIDE_WINDOWS',
      'Buying is off at this time: the central schedule has no buying window on Sunday at 01:59',
    ),
  },
  {
    name: 'Berlin fall-back: the window opens at the first 02:00',
    policy: { schedule: week({ sun: [W('02:00', '03:00')] }) },
    now: at('2026-10-25T00:00:00Z'), // 02:00 CEST
    expect: buy(0.002, 100),
  },
  {
    name: 'Berlin fall-back: the window closes at 03:00 CET, two real hours after it opened',
    policy: { schedule: week({ sun: [W('02:00', '03:00')] }) },
    now: at('2026-10-25T02:00:00Z'), // 03:00 CET
    expect: no(
      'R_OUTSIDE_WINDOWS',
      'Buying is off at this time: the central schedule has no buying window on Sunday at 03:00',
    ),
  },

  // DST: America/New_York springs forward on 2026-03-08 and falls back on 2026-11-01
  {
    name: 'New York spring-forward: at 01:59 EST a window starting at 03:00 is not open yet',
    policy: { schedule: week({ sun: [W('03:00', '04:00')] }) },
    settings: { timeZone: 'America/New_York' },
    now: at('2026-03-08T06:59:00Z'),
    expect: no(
      'R_OUTSIDE_WINDOWS',
      'Buying is off at this time: the central schedule has no buying window on Sunday at 01:59',
    ),
  },
  {
    name: 'New York spring-forward: one real minute later it is 03:00 EDT and the window is open',
    policy: { schedule: week({ sun: [W('03:00', '04:00')] }) },
    settings: { timeZone: 'America/New_York' },
    now: at('2026-03-08T07:00:00Z'),
    expect: buy(0.002, 100),
  },
  {
    name: 'New York fall-back: spends in 01:30 EDT count against 01:30 EST of the same window',
    policy: { schedule: week({ sun: [W('01:00', '02:00', 100)] }) },
    settings: { timeZone: 'America/New_York' },
    now: at('2026-11-01T06:30:00Z'), // 01:30 EST
    state: { spends: [spend('2026-11-01T05:30:00Z', 70)] }, // 01:30 EDT
    expect: buy(0.0006, 30, ['window limit: size cut to 30.00 USDT']),
  },
  {
    name: 'New York fall-back: the 25-hour day keeps counting its first hour until local midnight',
    policy: { schedule: allDayOpen },
    settings: { timeZone: 'America/New_York' },
    now: at('2026-11-02T04:30:00Z'), // Sunday 23:30 EST
    state: { spends: [spend('2026-11-01T04:30:00Z', 500)] }, // Sunday 00:30 EDT
    expect: no('R_DAILY_LIMIT', "Today's spending limit is used up: 500.00 of 500.00 USDT spent"),
  },

  // exposure per asset
  {
    name: 'the exposure limit cuts a buy down to what fits',
    state: { quoteFree: 9_000, holdings: { BTC: 0.019 }, dayStartEquity: 9_950 },
    expect: buy(0.0009, 45, ['exposure limit: size cut to 45.00 USDT']),
  },
  {
    name: 'an asset already above its exposure limit is not bought',
    state: { quoteFree: 9_000, holdings: { BTC: 0.022 } },
    expect: no(
      'R_EXPOSURE',
      'BTC already makes up 10.89% of the portfolio; the most allowed per coin is 10%',
    ),
  },
  {
    name: 'an exposure limit with less than the minimum left rejects the buy and says so',
    state: { quoteFree: 9_100, holdings: { BTC: 0.0202 } },
    expect: no(
      'R_EXPOSURE',
      `Only 1.00 USDT more BTC fits under the limit of 10% of the portfolio per coin, ${MIN}`,
    ),
  },
  {
    name: 'a tighter local exposure limit applies',
    settings: { maxExposurePct: 0.005 },
    expect: buy(0.001, 50, ['exposure limit: size cut to 50.00 USDT']),
  },
  {
    name: 'a looser local exposure limit is ignored',
    state: { quoteFree: 9_000, holdings: { BTC: 0.019 }, dayStartEquity: 9_950 },
    settings: { maxExposurePct: 0.5 },
    expect: buy(0.0009, 45, ['exposure limit: size cut to 45.00 USDT']),
  },

  // open positions
  {
    name: 'a buy that would open a fourth position is rejected',
    state: {
      holdings: { ETH: 1, SOL: 10, ADA: 1000 },
      marks: { 'ETH/USDT': 400, 'SOL/USDT': 20, 'ADA/USDT': 0.5 },
      dayStartEquity: 11_100,
    },
    expect: no(
      'R_MAX_POSITIONS',
      'Buying BTC would open a new position, but 3 positions are already open (the limit is 3)',
    ),
  },
  {
    name: 'adding to a held asset opens no position and is accepted',
    signal: { symbol: 'ETH/USDT', price: 400 },
    state: {
      holdings: { ETH: 1, SOL: 10, ADA: 1000 },
      marks: { 'ETH/USDT': 400, 'SOL/USDT': 20, 'ADA/USDT': 0.5 },
      dayStartEquity: 11_100,
    },
    expect: buy(0.25, 100, [], 400),
  },
  {
    name: 'dust below the minimum order value does not count as a position',
    state: {
      holdings: { ETH: 1, SOL: 10, ADA: 1 },
      marks: { 'ETH/USDT': 400, 'SOL/USDT': 20, 'ADA/USDT': 0.5 },
      dayStartEquity: 10_600.5,
    },
    expect: buy(0.002, 100),
  },
  {
    name: 'a tighter local limit on open positions applies',
    state: {
      holdings: { ETH: 1, SOL: 10 },
      marks: { 'ETH/USDT': 400, 'SOL/USDT': 20 },
      dayStartEquity: 10_600,
    },
    settings: { maxOpenPositions: 2 },
    expect: no(
      'R_MAX_POSITIONS',
      'Buying BTC would open a new position, but 2 positions are already open (the limit is 2)',
    ),
  },
  {
    name: 'a looser local limit on open positions is ignored',
    state: {
      holdings: { ETH: 1, SOL: 10, ADA: 1000 },
      marks: { 'ETH/USDT': 400, 'SOL/USDT': 20, 'ADA/USDT': 0.5 },
      dayStartEquity: 11_100,
    },
    settings: { maxOpenPositions: 10 },
    expect: no(
      'R_MAX_POSITIONS',
      'Buying BTC would open a new position, but 3 positions are already open (the limit is 3)',
    ),
  },

  // cash reserve and funds
  {
    name: 'cash at the reserve rejects the buy',
    state: { quoteFree: 2_000, holdings: { ETH: 20 }, marks: { 'ETH/USDT': 400 } },
    expect: no(
      'R_CASH_RESERVE',
      'Buying would dip into the cash reserve of 20% of the portfolio (2000.00 USDT); 2000.00 USDT is free',
    ),
  },
  {
    name: 'the cash reserve cuts a buy down to the cash above it',
    policy: { costBufferBps: 0 },
    state: { quoteFree: 2_080, holdings: { ETH: 20 }, marks: { 'ETH/USDT': 396 } },
    expect: buy(0.0016, 80, ['cash reserve: size cut to 80.00 USDT']),
  },
  {
    name: 'a cash reserve with less than the minimum above it rejects the buy and says so',
    state: { quoteFree: 2_003, holdings: { ETH: 1 }, marks: { 'ETH/USDT': 7_997 } },
    expect: no(
      'R_CASH_RESERVE',
      `Only 2.99 USDT can be spent without dipping into the cash reserve of 20% of the portfolio (2000.00 USDT), ${MIN}`,
    ),
  },
  {
    name: 'a larger local cash reserve applies, with the cost buffer',
    settings: { cashReservePct: 0.99 },
    expect: buy(0.00199, 99.5, ['cash reserve: size cut to 99.50 USDT']),
  },
  {
    name: 'a smaller local cash reserve is ignored',
    state: { quoteFree: 2_000, holdings: { ETH: 20 }, marks: { 'ETH/USDT': 400 } },
    settings: { cashReservePct: 0 },
    expect: no(
      'R_CASH_RESERVE',
      'Buying would dip into the cash reserve of 20% of the portfolio (2000.00 USDT); 2000.00 USDT is free',
    ),
  },
  {
    name: 'free cash less the fee buffer caps the buy, after the exposure limit',
    policy: { cashReservePct: 0, maxExposurePct: 1 },
    state: { quoteFree: 50, seedEquity: 50, dayStartEquity: 50 },
    expect: buy(0.00099, 49.5, ['exposure limit: size cut to 50.00 USDT', 'funds: size cut to 49.75 USDT']),
  },
  {
    name: 'a larger local cost buffer applies',
    policy: { cashReservePct: 0, maxExposurePct: 1 },
    state: { quoteFree: 50, seedEquity: 50, dayStartEquity: 50 },
    settings: { costBufferBps: 100 },
    expect: buy(0.00099, 49.5, ['exposure limit: size cut to 50.00 USDT', 'funds: size cut to 49.50 USDT']),
  },
  {
    name: 'a smaller local cost buffer is ignored',
    policy: { cashReservePct: 0, maxExposurePct: 1 },
    state: { quoteFree: 50, seedEquity: 50, dayStartEquity: 50 },
    settings: { costBufferBps: 0 },
    expect: buy(0.00099, 49.5, ['exposure limit: size cut to 50.00 USDT', 'funds: size cut to 49.75 USDT']),
  },
  {
    name: 'no free quote at all rejects the buy',
    policy: { cashReservePct: 0 },
    state: { quoteFree: 0, holdings: { ETH: 25 }, marks: { 'ETH/USDT': 400 } },
    expect: no('R_NO_FUNDS', 'There is no USDT free to buy with'),
  },
  {
    name: 'free quote below the minimum after the buffer rejects the buy and says so',
    policy: { cashReservePct: 0 },
    state: { quoteFree: 4, holdings: { ETH: 1 }, marks: { 'ETH/USDT': 9_996 } },
    expect: no(
      'R_NO_FUNDS',
      `Only 3.98 USDT can be spent from the 4.00 USDT free once 0.5% is kept for fees and slippage, ${MIN}`,
    ),
  },

  // order size and per-order, per-day limits from settings
  { name: 'a smaller local order size applies', settings: { orderQuote: 60 }, expect: buy(0.0012, 60) },
  { name: 'a larger local order size is ignored', settings: { orderQuote: 150 }, expect: buy(0.002, 100) },
  {
    name: 'a per-order limit below the order size cuts the buy',
    policy: { maxOrderQuote: 80 },
    expect: buy(0.0016, 80, ['order limit: size cut to 80.00 USDT']),
  },
  {
    name: 'a local per-order limit below the market minimum rejects the buy as R_ORDER_LIMIT',
    settings: { maxOrderQuote: 4 },
    expect: no('R_ORDER_LIMIT', `The largest order allowed, 4.00 USDT, is ${MIN}`),
  },
  {
    name: 'a larger local per-order limit is ignored',
    policy: { maxOrderQuote: 80 },
    settings: { maxOrderQuote: 1_000 },
    expect: buy(0.0016, 80, ['order limit: size cut to 80.00 USDT']),
  },
  {
    name: 'a smaller local daily limit applies',
    settings: { maxSpendPerDay: 50 },
    expect: buy(0.001, 50, ['daily limit: size cut to 50.00 USDT']),
  },
  {
    name: 'a larger local daily limit is ignored',
    policy: { schedule: allDayOpen },
    state: { spends: [spend('2026-06-10T08:00:00Z', 500)] },
    settings: { maxSpendPerDay: 1_000 },
    expect: no('R_DAILY_LIMIT', "Today's spending limit is used up: 500.00 of 500.00 USDT spent"),
  },

  // the user's own schedule only tightens
  {
    name: 'outside every window of your own schedule buying is off',
    settings: { schedule: week({ wed: [W('08:00', '10:00')] }) },
    expect: no(
      'R_OUTSIDE_WINDOWS',
      'Buying is off at this time: your schedule has no buying window on Wednesday at 12:00',
    ),
  },
  {
    name: 'your own window cannot switch buying on where the central schedule has it off',
    settings: { schedule: allDayOpen },
    now: at('2026-06-10T20:30:00Z'),
    expect: no('R_SCHEDULE_OFF', 'Buying is off on Wednesdays from 22:00 to 07:00 in the central schedule'),
  },
  {
    name: 'your own window with buying off stops buying',
    settings: { schedule: everyDay(W('00:00', '24:00', null, false)) },
    expect: no('R_SCHEDULE_OFF', 'Buying is off on Wednesdays from 00:00 to 24:00 in your schedule'),
  },
  {
    name: 'a smaller limit in your own window applies',
    settings: { schedule: everyDay(W('00:00', '24:00', 40)) },
    expect: buy(0.0008, 40, ['window limit: size cut to 40.00 USDT']),
  },
  {
    name: 'a larger limit in your own window is ignored',
    state: { spends: [spend('2026-06-10T09:00:00Z', 250)] },
    settings: { schedule: everyDay(W('00:00', '24:00', 1_000)) },
    expect: buy(0.001, 50, ['window limit: size cut to 50.00 USDT']),
  },

  // exchange rules
  {
    name: 'the amount is rounded down to the step and the price to the tick',
    signal: { price: 43_210.987 },
    expect: buy(0.00231, 99.8173869, [], 43_210.99),
  },
  {
    name: 'a coarse step rounds the amount down',
    signal: { price: 30_000 },
    state: { market: { ...MARKET, amountStep: 0.001, minAmount: 0.001 } },
    expect: buy(0.003, 90, [], 30_000),
  },
  {
    name: 'an order below the minimum order value is rejected',
    state: { market: { ...MARKET, minNotional: 150 } },
    expect: no(
      'R_BELOW_MINIMUM',
      "An order of 100.00 USDT is below the exchange's minimum order for BTC/USDT (150.00 USDT)",
    ),
  },
  {
    name: 'an order below the minimum amount is rejected',
    state: { market: { ...MARKET, minAmount: 0.01 } },
    expect: no(
      'R_BELOW_MINIMUM',
      "An order of 100.00 USDT is below the exchange's minimum order for BTC/USDT (500.00 USDT)",
    ),
  },
  {
    name: 'without market rules no buy is placed',
    state: { market: undefined },
    expect: no(
      'R_NO_MARKET',
      "The exchange's trading rules for BTC/USDT are not known, so no order can be placed",
    ),
  },

  // sells
  {
    name: 'a sell goes through with every fail-safe tripped at once',
    signal: { ...SELL, price: 30_000 },
    policyIs: null,
    state: {
      ...HOLD_BTC,
      quoteFree: 0,
      breaker: { level: 'halt', multiplier: 0 },
      lastHeartbeatAt: null,
      eligibility: null,
    },
    settings: { paused: true, schedule: everyDay(W('00:00', '24:00', 0, false)) },
    expect: sell(0.05, 1500, [], 30_000),
  },
  {
    name: 'a sell is rounded down to the step and says what stays',
    signal: SELL,
    state: { holdings: { BTC: 0.0123456 } },
    expect: sell(0.01234, 617, ['rounded down to the step: 0.0000056 BTC stays']),
  },
  {
    name: 'a sell with nothing held is rejected',
    signal: SELL,
    expect: no('R_NOTHING_TO_SELL', 'No BTC is held, so there is nothing to sell'),
  },
  {
    name: 'a sell with a zero balance is rejected',
    signal: SELL,
    state: { holdings: { BTC: 0 } },
    expect: no('R_NOTHING_TO_SELL', 'No BTC is held, so there is nothing to sell'),
  },
  {
    name: 'a sell of dust below the minimum order value is rejected',
    signal: SELL,
    state: { holdings: { BTC: 0.00005 } },
    expect: no(
      'R_BELOW_MINIMUM',
      "The 0.00005 BTC held is below the exchange's minimum order for BTC/USDT (0.0001 BTC), so it cannot be sold",
    ),
  },
  {
    name: 'a sell of less than one step is rejected',
    signal: SELL,
    state: { holdings: { BTC: 0.000004 }, market: { ...MARKET, minNotional: 0 } },
    expect: no(
      'R_BELOW_MINIMUM',
      "The 0.000004 BTC held is below the exchange's minimum order for BTC/USDT (0.00001 BTC), so it cannot be sold",
    ),
  },
  {
    name: 'without market rules nothing is sold',
    signal: SELL,
    state: { ...HOLD_BTC, market: undefined },
    expect: no(
      'R_NO_MARKET',
      "The exchange's trading rules for BTC/USDT are not known, so no order can be placed",
    ),
  },
  {
    name: 'a sell with a NaN balance is bad input',
    signal: SELL,
    state: { holdings: { BTC: NaN } },
    expect: no('R_BAD_INPUT', `${BAD}the held amount of BTC is not a number of at least 0 (NaN)`),
  },
];

t.test('decide: the table', async (t) => {
  t.ok(CASES.length >= 60, `${CASES.length} cases`);
  const names = new Set(CASES.map((c) => c.name));
  t.equal(names.size, CASES.length, 'case names are unique');
  for (const c of CASES) {
    const now = c.now ?? NOW;
    const signal: DecisionSignal = { ...SIGNAL, ts: now - 1_000, ...c.signal };
    // The exchange's price is the signal's unless a case says otherwise.
    const state: DecisionState = {
      ...STATE,
      lastHeartbeatAt: now - 10_000,
      marketPrice: signal.price,
      ...c.state,
    };
    const policy = 'policyIs' in c ? (c.policyIs ?? null) : ({ ...POLICY, ...c.policy } as ReceivedPolicy);
    const settings: UserSettings = { ...SETTINGS, ...c.settings };
    t.strictSame(decide(signal, state, policy, settings, now), c.expect, c.name);
  }
});

t.test('decide changes none of its inputs', async (t) => {
  const state = structuredClone({ ...STATE, spends: [spend('2026-06-10T09:00:00Z', 50)] });
  const policy = structuredClone(POLICY);
  const settings = structuredClone(SETTINGS);
  const before = structuredClone({ state, policy, settings });
  decide(SIGNAL, state, policy, settings, NOW);
  t.strictSame({ state, policy, settings }, before);
});

t.test('decide accepts a policy and settings as they come from a file, before defaults', async (t) => {
  const {
    maxExposurePct: _e,
    maxDrawdownPct: _d,
    costBufferBps: _c,
    maxPriceDeviationPct: _p,
    ...raw
  } = POLICY;
  const d = decide(SIGNAL, STATE, raw as ReceivedPolicy, { timeZone: 'Europe/Berlin' } as UserSettings, NOW);
  t.strictSame(d, buy(0.002, 100));
});
