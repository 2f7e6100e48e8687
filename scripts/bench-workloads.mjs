/**
 * The workloads of the benchmarks (docs/benchmarks.md), shared by
 * scripts/bench.mjs and scripts/bench-web.mjs: upstream's comparison
 * workload at N nodes, and the rate-bound burst.
 */

/** The upstream comparison: 3 providers (10 from 10,000 nodes on), 2 labels, min-ready N/2 each, boot 0.1 s. */
export function scaleConfig(dburi, nodes) {
  const providers = nodes >= 10_000 ? 10 : 3;
  const names = Array.from({ length: providers }, (_, i) => `fake-${i + 1}`);
  return {
    dburi,
    labels: ['small', 'large'].map((name) => ({ name, image: 'debian', 'min-ready': nodes / 2, providers: names.map((n) => ({ name: n })) })),
    providers: names.map((name) => fakeProvider(name, nodes)),
    targets: [{ name: 'local' }],
    diskimages: [{ name: 'debian', elements: ['debian-minimal'] }],
  };
}

/** The rate-bound burst: one provider at rate 0.1, servers that boot in 1 s, 500 nodes asked for at once. */
export function burstConfig(dburi) {
  return {
    dburi,
    labels: [{ name: 'small', image: 'debian', 'min-ready': 500, providers: [{ name: 'fake-1' }] }],
    providers: [fakeProvider('fake-1', 500, { rate: 0.1, activeS: 1 })],
    targets: [{ name: 'local' }],
    diskimages: [{ name: 'debian', elements: ['debian-minimal'] }],
  };
}

/** A simulated provider with the quota out of the way: `rate` 0.001 and servers ACTIVE 0.1 s after the create unless told otherwise. */
export function fakeProvider(name, maxServers, { rate = 0.001, activeS = 0.1 } = {}) {
  return {
    name,
    driver: 'fake',
    'max-servers': maxServers,
    rate,
    'launch-timeout': 3600,
    fake: { latency: { create: 0, active: activeS, delete: 0.1 }, quota: { instances: 1_000_000, cores: 10_000_000, ram: 1_000_000_000 } },
    images: [{ name: 'debian', 'min-ram': 1024 }],
  };
}
