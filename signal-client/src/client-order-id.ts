import { createHash } from 'node:crypto';

/**
 * The exchange order id a device uses for a signal: a pure function of (device, signal, leg),
 * so a restarted device asks the exchange about the very order it may already have placed.
 * 32 characters of base64url, inside Binance's `^[.A-Z:/a-z0-9_-]{1,36}$`.
 */
export function clientOrderId(deviceId: string, signalId: string, leg = 0): string {
  const digest = createHash('sha256').update(`${deviceId}\n${signalId}\n${leg}`).digest('base64url');
  return `sa${digest.slice(0, 30)}`;
}

/**
 * The exchange order id of a fleet command's sale of `symbol` (a `flat`): a pure function of
 * (device, command, symbol), so a redelivered command or a restart after a crash finds the very
 * order it may already have placed instead of selling again. Prefixed `sc` (signals: `sa`).
 */
export function commandOrderId(deviceId: string, commandId: string, symbol: string): string {
  const digest = createHash('sha256')
    .update(`command\n${deviceId}\n${commandId}\n${symbol}`)
    .digest('base64url');
  return `sc${digest.slice(0, 30)}`;
}
