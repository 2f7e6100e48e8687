/** nodepoold's status web server: the listings, /healthz and /readyz (docs/web.md). */
export { startStatusServer, type StatusServer, type StatusServerOptions } from './status-server.js';
export { readinessProblems, serverListBoundMs, type ReadinessProbe } from './readiness.js';
export { DEFAULT_CACHE_MS } from './listing-pages.js';
