import type { Params } from './binance-auth.js';
import { parseAmount } from './amount-text.js';
import { binanceErrors } from './errors.js';
import type { Markets } from './markets.js';
import type { NewOrder, OrderRef } from './orders.js';

/** Binance's rule for client order ids; unique only among an account's open orders. */
export const CLIENT_ORDER_ID = /^[.A-Z:/a-z0-9_-]{1,36}$/;
const CLIENT_ORDER_ID_RANGE = '^[\\.A-Z\\:/a-z0-9_-]{1,36}$';
const DECIMAL_RANGE = '^([0-9]{1,20})(\\.[0-9]{1,20})?$';
const INTEGER = /^\d{1,15}$/;

export type NewOrderRespType = 'ACK' | 'RESULT' | 'FULL';

/** A parameter as Binance reads it: an empty value counts as not sent. */
export function param(params: Params, name: string): string | undefined {
  const v = params.get(name);
  return v === undefined || v === '' ? undefined : v;
}

function decimalParam(params: Params, name: string): bigint | undefined {
  const text = param(params, name);
  if (text === undefined) return undefined;
  const parsed = parseAmount(text);
  if (parsed.ok) return parsed.atoms;
  throw parsed.reason === 'too-precise'
    ? binanceErrors.tooPrecise()
    : binanceErrors.illegalCharacters(name, DECIMAL_RANGE);
}

export function integerParam(params: Params, name: string): number | undefined {
  const text = param(params, name);
  if (text === undefined) return undefined;
  if (!INTEGER.test(text)) throw binanceErrors.illegalCharacters(name, '^[0-9]{1,20}$');
  return Number(text);
}

export function clientOrderIdParam(params: Params, name: string): string | undefined {
  const id = param(params, name);
  if (id !== undefined && !CLIENT_ORDER_ID.test(id))
    throw binanceErrors.illegalCharacters(name, CLIENT_ORDER_ID_RANGE);
  return id;
}

export function parseNewOrder(
  params: Params,
  markets: Markets,
): { order: NewOrder; respType: NewOrderRespType } {
  const market = markets.byWireId(param(params, 'symbol'));
  const side = param(params, 'side');
  if (side === undefined) throw binanceErrors.mandatory('side');
  if (side !== 'BUY' && side !== 'SELL') throw binanceErrors.invalidSide();
  const type = param(params, 'type');
  if (type === undefined) throw binanceErrors.mandatory('type');
  if (type !== 'MARKET' && type !== 'LIMIT') throw binanceErrors.invalidOrderType();
  const clientOrderId = clientOrderIdParam(params, 'newClientOrderId');
  const quantity = decimalParam(params, 'quantity');
  const quoteOrderQty = decimalParam(params, 'quoteOrderQty');
  const price = decimalParam(params, 'price');
  const tif = param(params, 'timeInForce');
  const respType = param(params, 'newOrderRespType') ?? 'FULL';
  if (respType !== 'ACK' && respType !== 'RESULT' && respType !== 'FULL') {
    throw binanceErrors.illegalCharacters('newOrderRespType', 'ACK|RESULT|FULL');
  }

  if (type === 'MARKET') {
    if (price !== undefined) throw binanceErrors.notRequired('price');
    if (tif !== undefined) throw binanceErrors.notRequired('timeInForce');
    if (quantity !== undefined) {
      if (quoteOrderQty !== undefined) throw binanceErrors.notRequired('quoteOrderQty');
      return { order: { market, side, type, quantity, clientOrderId }, respType };
    }
    if (quoteOrderQty === undefined) throw binanceErrors.eitherParam('quantity', 'quoteOrderQty');
    return { order: { market, side, type, quoteOrderQty, clientOrderId }, respType };
  }
  if (quoteOrderQty !== undefined) throw binanceErrors.notRequired('quoteOrderQty');
  if (tif === undefined) throw binanceErrors.mandatory('timeInForce');
  if (tif !== 'GTC' && tif !== 'IOC' && tif !== 'FOK') throw binanceErrors.invalidTimeInForce();
  if (quantity === undefined) throw binanceErrors.mandatory('quantity');
  if (price === undefined) throw binanceErrors.mandatory('price');
  return { order: { market, side, type, timeInForce: tif, quantity, price, clientOrderId }, respType };
}

export function parseOrderRef(params: Params): OrderRef {
  const orderId = integerParam(params, 'orderId');
  const clientOrderId = param(params, 'origClientOrderId');
  if (orderId === undefined && clientOrderId === undefined) {
    throw binanceErrors.eitherParam('origClientOrderId', 'orderId');
  }
  return { orderId, clientOrderId };
}
