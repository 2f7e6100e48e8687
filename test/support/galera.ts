/**
 * A real 3-node MariaDB Galera cluster on loopback for the tests: the code
 * is src/tools/galera-cluster.ts, shared with scripts/galera-cluster.mjs.
 * `galeraSkipReason()` says why a cluster cannot run here (tests skip with
 * it), undefined when it can.
 */
import { galeraUnavailableReason } from '../../src/tools/galera-cluster.js';

export { galeraAvailable, startGaleraCluster, type GaleraCluster, type GaleraClusterOptions } from '../../src/tools/galera-cluster.js';

/** SQL port of node 1 in tests (NODEPOOL_TEST_GALERA_PORT, default 3311; nodes 2 and 3 take the next two). */
export const GALERA_TEST_PORT = Number(process.env.NODEPOOL_TEST_GALERA_PORT || 3311);

export function galeraSkipReason(): string | undefined {
  return galeraUnavailableReason();
}
