/** One gateway per provider: the driver, its rate-spaced queue and the shared caches (docs/architecture.md). */
export { listIntervalMs, ProviderGateway, type CloudCall, type CloudOperation, type ServerListOutcome } from './provider-gateway.js';
export { GatewayRegistry, type GatewayRegistryOptions } from './registry.js';
