export {
  ConcentratorPeerSchema,
  ConcentratorSchema,
  DeviceConfSchema,
  DeviceIdSchema,
  WgKeySchema,
  parseConcentrator,
  parseDeviceConf,
  renderConcentratorConf,
  renderDeviceConf,
  type Concentrator,
  type ConcentratorInput,
  type DeviceConf,
  type DeviceConfInput,
} from './render.js';
export {
  allocateAddress,
  cidrContains,
  formatCidr,
  formatIpv4,
  hostAt,
  hostCount,
  hubAddress,
  indexOf,
  isHostOf,
  parseAddressWithPrefix,
  parseCidr,
  parseIpv4,
  type Cidr,
} from './cidr.js';
export { generateWgKeyPair, isWgKey, wgPublicKeyOf, type WgKeyPair } from './keys.js';
export { checkWgConf, stripWgConf } from './check.js';
export { parseWgConf, type WgConfSection } from './conf.js';
export { WgInterface, parseWgDump, type WgInterfaceOptions, type WgPeerState } from './interface.js';
export { bringDown, bringUp, WG_RUN_DIR, type BringUpOptions } from './up.js';
export { findTool } from './exec.js';
export { WIREGUARD_ERROR_CODES, WireguardError, type WireguardErrorCode } from './errors.js';
