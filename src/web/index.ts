/** The status web server of nodepoold and nodepool-builder: the listings, /metrics, /healthz and /readyz (docs/web.md). */
export { startStatusServer, type StatusServer, type StatusServerOptions } from './status-server.js';
export type { MetricsSource } from './routes.js';
export { readinessProblems, serverListBoundMs, type ReadinessProbe } from './readiness.js';
export { DEFAULT_CACHE_MS } from './listing-pages.js';
export { BUILDER_LISTINGS, NODEPOOLD_LISTINGS } from './page-sets.js';
