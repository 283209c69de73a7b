// The test cluster lives in plain JavaScript (postgres-cluster.mjs) so the benchmarks share it.
export { startCluster, type Cluster, type ClusterOptions } from './postgres-cluster.mjs';
