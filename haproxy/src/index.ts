export { ClusterSchema, DEFAULT_CLUSTER, parseCluster, type Cluster, type ClusterInput } from './cluster.js';
export { renderHaproxyConfig } from './render.js';
export { checkHaproxyConfig, findHaproxy } from './check.js';
export { startHaproxy, type RunningHaproxy } from './run.js';
export { ClusterError, HaproxyError, type HaproxyErrorCode } from './errors.js';
