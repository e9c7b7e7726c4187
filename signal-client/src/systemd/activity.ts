/** What the client is doing, for the one STATUS= line `systemctl status signal-client` shows. */
export type Activity =
  | { phase: 'starting' }
  | { phase: 'reconciling'; intents: number }
  | { phase: 'connecting'; gateway: string }
  | { phase: 'connected'; gateway: string; decisionsToday: number }
  | { phase: 'disconnected' }
  | { phase: 'stopping' };

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * "reconciling 2 intents", "connected to gw-1, 14 decisions today", "disconnected: reconnecting".
 * `note` is appended after a semicolon (e.g. "buying halted by the breaker").
 */
export function describeActivity(activity: Activity, note?: string): string {
  let text: string;
  switch (activity.phase) {
    case 'starting':
      text = 'starting: loading state';
      break;
    case 'reconciling':
      text = `reconciling ${plural(activity.intents, 'intent')}`;
      break;
    case 'connecting':
      text = `connecting to ${activity.gateway}`;
      break;
    case 'connected':
      text = `connected to ${activity.gateway}, ${plural(activity.decisionsToday, 'decision')} today`;
      break;
    case 'disconnected':
      text = 'disconnected: reconnecting';
      break;
    case 'stopping':
      text = 'stopping';
      break;
  }
  return note ? `${text}; ${note}` : text;
}
