// The systemd side of the device: sd_notify (READY/STATUS/WATCHDOG/STOPPING), the health gate
// for watchdog pings, and the STATUS= text. See images/README.md for the unit that uses them.
export {
  createNotifier,
  notifyAddress,
  statusText,
  watchdogInterval,
  MAX_STATUS_LENGTH,
  type Notifier,
  type NotifierOptions,
} from './notifier.js';
export {
  healthy,
  DEFAULT_HEALTH_LIMITS,
  type GatewayHealth,
  type HealthInputs,
  type HealthLimits,
  type HealthVerdict,
  type JournalHealth,
} from './health.js';
export { createHealthMonitor, type HealthMonitor, type HealthMonitorOptions } from './health-monitor.js';
export { describeActivity, type Activity } from './activity.js';
export { NotifyError, NOTIFY_ERROR_CODES, type NotifyErrorCode } from './errors.js';
export { NOTIFY_ADDON_FILE, loadNotifyAddon, protectProcess, type NotifyTransport } from './addon.js';
