import type { ClientConfig } from './config.js';
import { openStateStore } from './state-store.js';
import { renderStatusText, statusView, type StatusView } from './status.js';

/**
 * `signal-client status`: asks the running client's local page first (it knows whether it is
 * connected and what the breaker says); when nothing answers, reads the state file itself.
 */
export async function readStatus(config: ClientConfig, now = Date.now()): Promise<StatusView> {
  if (config.statusPort > 0) {
    try {
      const res = await fetch(`http://127.0.0.1:${config.statusPort}/status.json`, {
        signal: AbortSignal.timeout(1_000),
      });
      if (res.ok) return (await res.json()) as StatusView;
    } catch {
      // not running (or not answering): fall through to the state file
    }
  }
  // The device may be running: read only, never cut off what may be its append in progress.
  const store = await openStateStore(config.stateFile, config.deviceId, { readOnly: true });
  return statusView(store.data, null, config.quote, now, config.settings.timeZone);
}

export async function printStatus(config: ClientConfig, json: boolean): Promise<void> {
  const view = await readStatus(config);
  process.stdout.write(
    json ? `${JSON.stringify(view, null, 2)}\n` : renderStatusText(view, config.settings.timeZone),
  );
}
