import ccxt from 'ccxt';
import t from 'tap';
import { isRetriable } from '@appliance/errors';
import { ExecutionError, translateCcxtError } from '../src/exchange.js';

t.test("ccxt's errors become our codes; only an unknown outcome is indeterminate", (t) => {
  for (const [err, code, indeterminate] of [
    [new ccxt.AuthenticationError('binance {"code":-1022}'), 'E_AUTH', false],
    [new ccxt.PermissionDenied('no trading'), 'E_AUTH', false],
    [new ccxt.InsufficientFunds('Account has insufficient balance'), 'E_INSUFFICIENT_FUNDS', false],
    [new ccxt.OrderNotFound('Order does not exist.'), 'E_NOT_FOUND', false],
    [new ccxt.DuplicateOrderId('dup'), 'E_DUPLICATE', true],
    [new ccxt.InvalidOrder('Duplicate order sent.'), 'E_DUPLICATE', true],
    [new ccxt.InvalidOrder('Filter failure: LOT_SIZE'), 'E_ORDER_REJECTED', false],
    [new ccxt.BadRequest('Filter failure: NOTIONAL'), 'E_ORDER_REJECTED', false],
    [new ccxt.RequestTimeout('timed out'), 'E_UNREACHABLE', true],
    [new ccxt.NetworkError('ECONNRESET'), 'E_UNREACHABLE', true],
    [new ccxt.ExchangeError('something else'), 'E_EXCHANGE', false],
    [new TypeError('a bug'), 'E_EXCHANGE', false],
  ] as const) {
    const e = translateCcxtError(err);
    t.ok(e instanceof ExecutionError, `${err.constructor.name}: an ExecutionError`);
    t.equal(e.code, code, `${err.constructor.name}: ${code}`);
    t.equal(e.indeterminate, indeterminate, `${err.constructor.name}: indeterminate ${indeterminate}`);
    // Sending an order again can make a second order: no exchange failure is retriable.
    t.equal(isRetriable(e), false, `${err.constructor.name}: never retriable`);
  }
  t.end();
});

t.test('indeterminate follows the code, whoever throws it', (t) => {
  t.equal(new ExecutionError('E_UNREACHABLE', 'reset').indeterminate, true);
  t.equal(new ExecutionError('E_DUPLICATE', 'dup').indeterminate, true);
  t.equal(new ExecutionError('E_ORDER_REJECTED', 'no').indeterminate, false);
  t.end();
});

t.test('an ExecutionError passes through unchanged, and its JSON form is the shared one', (t) => {
  const e = new ExecutionError('E_UNREACHABLE', 'the exchange did not answer');
  t.equal(translateCcxtError(e), e);
  t.equal(e.name, 'ExecutionError');
  t.strictSame(JSON.parse(JSON.stringify(e)), {
    code: 'E_UNREACHABLE',
    message: 'the exchange did not answer',
    retriable: false,
  });
  t.end();
});
