#!/usr/bin/env node
// Times allocate() on a large pool: 1000 labels x 10 providers.
// Build first (`npm run build`), then: node scripts/bench-allocation.mjs [labels] [providers] [runs]
// See docs/allocation.md.
import { performance } from 'node:perf_hooks';
import { allocate, emptyHistory } from '../dist/src/allocation/index.js';
import { seededRandom } from '../dist/src/simulated-cloud/random.js';

const [labelCount = 1000, providerCount = 10, runs = 20] = process.argv.slice(2).map(Number);

// Seeded (mulberry32) so every run of the script measures the same pools.
const seeded = seededRandom;

function pool(seed, maxServers) {
  const rnd = seeded(seed);
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  const providers = Array.from({ length: providerCount }, (_, i) => ({ name: `p${i}`, maxServers }));
  const labels = Array.from({ length: labelCount }, (_, i) => ({
    name: `label-${i}`,
    image: `image-${i % 20}`,
    minReady: int(0, 5),
    subnodes: i % 7 === 0 ? 1 : 0,
    providers: providers.filter(() => rnd() < 0.5).map((p) => ({ name: p.name })),
  }));
  const nodes = labels.flatMap((l) =>
    l.providers.slice(0, 1).map((p) => ({ provider: p.name, label: l.name, target: 't1', state: 'ready', count: int(0, 3) })),
  );
  return {
    config: { labels, providers, targets: [{ name: 't1' }] },
    nodes,
    demand: Object.fromEntries(labels.map((l) => [l.name, int(0, 10)])),
    usableImages: providers.flatMap((p) => Array.from({ length: 20 }, (_, i) => ({ provider: p.name, image: `image-${i}` }))),
  };
}

function measure(title, input) {
  let history = emptyHistory();
  const times = [];
  let result;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    result = allocate({ ...input, history });
    times.push(performance.now() - start);
    history = result.history;
  }
  times.sort((a, b) => a - b);
  const launched = result.launches.reduce((s, l) => s + l.count, 0);
  const median = times[Math.floor(times.length / 2)];
  console.log(
    `${title}: ${labelCount} labels x ${providerCount} providers, ${launched} nodes launched; ` +
      `median ${median.toFixed(1)} ms, max ${times.at(-1).toFixed(1)} ms over ${runs} runs`,
  );
}

measure('short capacity (max-servers 500)', pool(1, 500));
measure('ample capacity (max-servers 100000)', pool(1, 100_000));
