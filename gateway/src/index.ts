export { createGateway, type Gateway, type GatewayDeps, type GatewayStats } from './gateway.js';
export { GatewayOptions, DEFAULT_GATEWAY_OPTIONS } from './options.js';
export { CLOSE } from './close-codes.js';
export { StreamRing } from './stream-ring.js';
export { PROXY_V2_SIGNATURE, parseProxyV2, proxyV2Listener, type ProxyHeader } from './proxy-protocol.js';
