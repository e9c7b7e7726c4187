// The systemd side of the device: sd_notify (READY/STATUS/WATCHDOG/STOPPING), the health gate
// for watchdog pings, and the STATUS= text. See images/README.md for the unit that uses them.
export {
  createNotifier,
  notifyAddress,
  statusText,
  watchdogInterval,
  MAX_STATUS_LENGTH,
  type Notifier,
} from './notifier.js';
export { healthy, type HealthInputs, type JournalHealth } from './health.js';
export { createHealthMonitor } from './health-monitor.js';
export { describeActivity } from './activity.js';
export { NotifyError } from './errors.js';
export { protectProcess, type NotifyTransport } from './addon.js';
