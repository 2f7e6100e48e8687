/** How the listings of nodes, images, labels, providers and daemons are printed: one rendering for the commands and the status web server. */
export { formatAge, renderTable, type Cell } from './table.js';
export { NODE_COLUMNS, nodeJson, nodeManager, nodeTable } from './node-rows.js';
export { BUILD_COLUMNS, UPLOAD_COLUMNS, buildJson, buildName, buildTable, oldestFirst, uploadJson, uploadTable } from './image-rows.js';
export { LABEL_COLUMNS, countLabels, labelJson, labelTable, type LabelCounts } from './label-rows.js';
export {
  DAEMON_COLUMNS, PROVIDER_COLUMNS, daemonJson, daemonRows, daemonState, daemonTable, leaseHeld, providerJson, providerOwners, providerRows, providerTable,
  type DaemonRow, type DaemonState, type ProviderRow,
} from './provider-rows.js';
export { jsonRows } from './json.js';
