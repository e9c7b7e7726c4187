export {
  startControlServer,
  DEFAULT_CONTROL_OPTIONS,
  type ControlServer,
  type ControlServerOptions,
} from './server.js';
export { DeviceRegistry, RegistryError, type Device } from './registry.js';
export { FleetView, type FleetEntry } from './fleet.js';
export { ControlPublisher } from './control-publisher.js';
export { DEFAULT_MARKETS } from './default-markets.js';
export { DEFAULT_FAMILY_POLICY } from './default-policy.js';
export * from './paper-exchange/index.js';
