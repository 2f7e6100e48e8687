/**
 * The gateways of one process, one per provider, made on first use and
 * reconfigured from each configuration diff. nodepoold's node side, the
 * builder inside or beside it, and the commands all take their gateway here,
 * so a process never holds two drivers or two rate queues for one provider.
 */
import { Subject, type Observable } from 'rxjs';
import type { ConfigDiff } from '../config/diff.js';
import type { NodepoolConfig, Provider } from '../config/types.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { ProviderDriver } from '../drivers/driver.js';
import { createDriver } from '../drivers/factory.js';
import type { Logging } from '../log/index.js';
import { ProviderGateway, type CloudCall } from './provider-gateway.js';

export interface GatewayRegistryOptions {
  logging: Logging;
  clock?: Clock;
  /** How a provider's driver is made; default the driver factory (tests substitute failing clouds). */
  makeDriver?: (provider: Provider, clock: Clock) => ProviderDriver;
}

export class GatewayRegistry {
  private readonly gateways = new Map<string, ProviderGateway>();
  private readonly callStream = new Subject<CloudCall>();
  private readonly clock: Clock;

  constructor(private readonly options: GatewayRegistryOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Every cloud call of this process as it ends. */
  get calls(): Observable<CloudCall> {
    return this.callStream;
  }

  /**
   * The gateway of `provider`, made now if there is none. Throws the
   * driver's DriverError when the provider's settings cannot make a driver
   * (no credentials, a `cloud:` clouds.yaml does not define).
   */
  open(provider: Provider): ProviderGateway {
    const existing = this.gateways.get(provider.name);
    if (existing) return existing;
    const make = this.options.makeDriver ?? ((p: Provider, clock: Clock) => createDriver(p, { clock }));
    const gateway = new ProviderGateway(provider, {
      clock: this.clock,
      log: this.options.logging.get(`nodepool.provider.${provider.name}`),
      makeDriver: (p) => make(p, this.clock),
      calls: this.callStream,
    });
    this.gateways.set(provider.name, gateway);
    return gateway;
  }

  get(name: string): ProviderGateway | undefined {
    return this.gateways.get(name);
  }

  all(): ProviderGateway[] {
    return [...this.gateways.values()];
  }

  /**
   * A new configuration: each open gateway of a changed provider takes its
   * new settings (a new driver where the diff says how the cloud is reached
   * changed); a removed provider's gateway is retired but kept, so its nodes
   * can still be deleted. Gateways of added providers are made when first
   * opened. A provider whose new settings cannot make a driver keeps the
   * old one; the error is logged.
   */
  applyConfig(config: NodepoolConfig, diff: ConfigDiff): void {
    const changes = [
      ...diff.providers.changed.map((c) => ({ name: c.name, aspects: c.aspects })),
      // A provider removed and added again within the process's life.
      ...diff.providers.added.map((name) => ({ name, aspects: ['driver' as const] })),
    ];
    for (const { name, aspects } of changes) {
      const gateway = this.gateways.get(name);
      const provider = config.providers.find((p) => p.name === name);
      if (!gateway || !provider) continue;
      try {
        gateway.reconfigure(provider, aspects);
      } catch (err) {
        this.options.logging
          .get(`nodepool.provider.${name}`)
          .error({ err, provider: name }, `provider ${name}: the new settings cannot reach the cloud (${(err as Error).message}); keeping the previous driver`);
      }
    }
    for (const name of diff.providers.removed) this.gateways.get(name)?.retire();
  }

  async close(): Promise<void> {
    const gateways = [...this.gateways.values()];
    this.gateways.clear();
    await Promise.all(gateways.map((g) => g.close()));
    this.callStream.complete();
  }
}
