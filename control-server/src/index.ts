export {
  startControlServer,
  DEFAULT_CONTROL_OPTIONS,
  type ControlServer,
  type ControlServerOptions,
  ListenError,
} from './server.js';
export { DeviceRegistry, RegistryError, type Device } from './registry.js';
export { FleetView, FleetBusRecord, type FleetEntry, type FleetStats } from './fleet.js';
export { AdminToken, AdminTokenError, ADMIN_TOKEN_FILE } from './admin-auth.js';
export { HostAllowList, DEFAULT_ALLOWED_HOSTS } from '@appliance/runtime';
export {
  CandleIntake,
  CANDLE_DROP_REASONS,
  MAX_CANDLE_RECORD_BYTES,
  type CandleDropReason,
  type CandleIntakeStats,
} from './candle-intake.js';
export { ControlPublisher } from './control-publisher.js';
