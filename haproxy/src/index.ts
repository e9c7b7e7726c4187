export { ClusterSchema, DEFAULT_CLUSTER, parseCluster, type Cluster, type ClusterInput } from './cluster.js';
export {
  planMaxConn,
  renderHaproxy,
  renderHaproxyConfig,
  type MaxConnPlan,
  type RenderHost,
} from './render.js';
export { haproxyFdNeed, haproxyThreads, maxConnForLimit, readFdLimit, type FdLimit } from './fd-limit.js';
export { checkHaproxyConfig, findHaproxy } from './check.js';
export { startHaproxy, type RunningHaproxy } from './run.js';
export { ClusterError, HaproxyError, type HaproxyErrorCode } from './errors.js';
export { denyAddress, ensureDenyListFile, type DenyListTarget } from './deny-list.js';
