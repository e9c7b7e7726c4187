import { errorClass } from '@appliance/errors';

/**
 * Errors the paper exchange answers with, in Binance's own codes and words: ccxt's `binance`
 * class maps them by code and by exact message, so a client sees the same ccxt error class
 * here as against the real exchange. All of them live here, so this file is the catalogue.
 *
 * | code  | HTTP | msg (abridged)                                           | ccxt 4.5 class          |
 * |-------|------|----------------------------------------------------------|-------------------------|
 * | -1000 | 500  | An unknown error occured while processing the request.   | OperationFailed         |
 * | -1020 | 404  | This operation is not supported.                         | BadRequest              |
 * | -1021 | 400  | Timestamp for this request is outside of the recvWindow. | InvalidNonce            |
 * | -1022 | 400  | Signature for this request is not valid.                 | AuthenticationError     |
 * | -1100 | 400  | Illegal characters found in parameter '…'; legal range … | BadRequest              |
 * | -1102 | 400  | Mandatory parameter '…' was not sent, …                  | BadRequest              |
 * | -1106 | 400  | Parameter '…' sent when not required.                    | BadRequest              |
 * | -1111 | 400  | Precision is over the maximum defined for this asset.    | BadRequest              |
 * | -1115 | 400  | Invalid timeInForce.                                     | BadRequest              |
 * | -1116 | 400  | Invalid orderType.                                       | BadRequest              |
 * | -1117 | 400  | Invalid side.                                            | BadRequest              |
 * | -1120 | 400  | Invalid interval.                                        | BadRequest              |
 * | -1121 | 400  | Invalid symbol.                                          | BadSymbol               |
 * | -1131 | 400  | recvWindow must be less than 60000                       | ExchangeError (**)      |
 * | -1013 | 400  | Filter failure: LOT_SIZE / PRICE_FILTER                  | InvalidOrder (by body)  |
 * | -1013 | 400  | Filter failure: NOTIONAL                                 | BadRequest (as on live) |
 * | -2010 | 400  | Account has insufficient balance for requested action.   | InsufficientFunds       |
 * | -2010 | 400  | Duplicate order sent.                                    | InvalidOrder            |
 * | -2010 | 400  | No price for … yet: … (ours)                             | InvalidOrder            |
 * | -2011 | 400  | Unknown order sent.                                      | OrderNotFound           |
 * | -2013 | 400  | Order does not exist.                                    | OrderNotFound           |
 * | -2014 | 401  | API-key format invalid.                                  | AuthenticationError     |
 * | -2015 | 401  | Invalid API-key, IP, or permissions for action.          | AuthenticationError (*) |
 *
 * (**) BadRequest against binance.com: ccxt keeps a spot-only table keyed by hostname, which a
 * loopback URL never matches. It is the only code here where that table differs.
 * (*) ccxt turns -2015 into DDoSProtection once the same instance has made one successful
 * private call, because Binance also sends -2015 for a temporary ban.
 */
// Not an AppError: its code is Binance's number and its text Binance's words, the wire reply
// ccxt maps to its own classes; it never leaves the HTTP layer as one of our errors.
export class BinanceError extends Error {
  override readonly name = 'BinanceError';
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly httpStatus = 400,
  ) {
    super(`${code} ${msg}`);
  }

  toJSON(): { code: number; msg: string } {
    return { code: this.code, msg: this.msg };
  }
}

const mandatory = (name: string) =>
  new BinanceError(-1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);

export const binanceErrors = {
  // The misspelling is Binance's.
  unknown: () => new BinanceError(-1000, 'An unknown error occured while processing the request.', 500),
  notSupported: () => new BinanceError(-1020, 'This operation is not supported.', 404),
  outsideRecvWindow: () =>
    new BinanceError(-1021, 'Timestamp for this request is outside of the recvWindow.'),
  aheadOfServer: () =>
    new BinanceError(-1021, "Timestamp for this request was 1000ms ahead of the server's time."),
  badSignature: () => new BinanceError(-1022, 'Signature for this request is not valid.'),
  illegalCharacters: (name: string, legalRange: string) =>
    new BinanceError(
      -1100,
      `Illegal characters found in parameter '${name}'; legal range is '${legalRange}'.`,
    ),
  mandatory,
  eitherParam: (a: string, b: string) =>
    new BinanceError(-1102, `Param '${a}' or '${b}' must be sent, but both were empty/null!`),
  notRequired: (name: string) => new BinanceError(-1106, `Parameter '${name}' sent when not required.`),
  tooPrecise: () => new BinanceError(-1111, 'Precision is over the maximum defined for this asset.'),
  invalidTimeInForce: () => new BinanceError(-1115, 'Invalid timeInForce.'),
  invalidOrderType: () => new BinanceError(-1116, 'Invalid orderType.'),
  invalidSide: () => new BinanceError(-1117, 'Invalid side.'),
  invalidInterval: () => new BinanceError(-1120, 'Invalid interval.'),
  invalidSymbol: () => new BinanceError(-1121, 'Invalid symbol.'),
  recvWindowTooLarge: () => new BinanceError(-1131, 'recvWindow must be less than 60000'),
  filterFailure: (filter: 'LOT_SIZE' | 'PRICE_FILTER' | 'NOTIONAL') =>
    new BinanceError(-1013, `Filter failure: ${filter}`),
  insufficientBalance: () =>
    new BinanceError(-2010, 'Account has insufficient balance for requested action.'),
  duplicateOrder: () => new BinanceError(-2010, 'Duplicate order sent.'),
  noPrice: (symbol: string) =>
    new BinanceError(
      -2010,
      `No price for ${symbol} yet: the paper exchange fills market orders at the latest candle's close and has received none.`,
    ),
  unknownOrderSent: () => new BinanceError(-2011, 'Unknown order sent.'),
  orderDoesNotExist: () => new BinanceError(-2013, 'Order does not exist.'),
  apiKeyFormat: () => new BinanceError(-2014, 'API-key format invalid.', 401),
  invalidApiKey: () => new BinanceError(-2015, 'Invalid API-key, IP, or permissions for action.', 401),
} as const;

const PAPER_EXCHANGE_ERROR_CODES = {
  PAPER_ERR_INVALID_OPTION: 'an option of the paper exchange is invalid',
  PAPER_ERR_DUPLICATE_ACCOUNT: 'an account with this API key already exists',
  PAPER_ERR_UNKNOWN_ACCOUNT: 'no account has this API key',
  PAPER_ERR_UNKNOWN_SYMBOL: 'the paper exchange does not list this market',
  PAPER_ERR_BAD_CANDLE: 'the candle is impossible (high below low, ...)',
  PAPER_ERR_NOT_LISTENING: 'the paper exchange is not listening',
  PAPER_ERR_LISTEN: 'the paper exchange could not listen on its host and port',
} as const;

export type PaperExchangeErrorCode = keyof typeof PAPER_EXCHANGE_ERROR_CODES;

/** A mistake of the code driving the exchange (options, candles, accounts), never of an HTTP client. */
export class PaperExchangeError extends errorClass('PaperExchangeError', PAPER_EXCHANGE_ERROR_CODES) {}
