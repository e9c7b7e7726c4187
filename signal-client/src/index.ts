export {
  READY_MESSAGE,
  createSignalClient,
  type SignalClient,
  type SignalClientDeps,
} from './signal-client.js';
export { GatewayTlsConfig, loadGatewayTls, type GatewayTlsOptions } from './gateway-tls.js';
export { ClientConfig } from './config.js';
export { GatewayConnection, type GatewayConnectionOptions } from './gateway-connection.js';
export {
  createBinanceExecutor,
  ExecutionError,
  translateCcxtError,
  EXECUTION_ERROR_CODES,
  type Executor,
  type OrderResult,
} from './exchange.js';
export { openStateStore, StateError, type StateStore } from './state-store.js';
export { clientOrderId } from './client-order-id.js';
export { ClientState, Intent, emptyState } from './state.js';
export {
  openKeystore,
  requireKeys,
  KeystoreConfig,
  KeystoreError,
  loadCredentialEncryptedLine,
  SYSTEMD_CREDENTIAL_NAME,
  type Keystore,
  type ExchangeKeys,
} from './keystore/index.js';
