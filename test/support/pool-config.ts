import { join } from 'node:path';
import { FAKE_IMAGE_CREATE, writeConfigFile } from './config-files.js';

export interface PoolConfigOptions {
  dir: string;
  dburi: string;
  providers?: { name: string; maxServers?: number; active?: number; stateFile?: string }[];
  labels?: { name: string; minReady: number; providers: string[] }[];
}

/** A nodepool.yaml over simulated clouds with short latencies, each cloud in its own state file. */
export function poolConfig(options: PoolConfigOptions): Record<string, unknown> {
  const providers = options.providers ?? [{ name: 'fake-a' }];
  const labels = options.labels ?? [{ name: 'small', minReady: 2, providers: providers.map((p) => p.name) }];
  return {
    dburi: options.dburi,
    'images-dir': join(options.dir, 'images'),
    labels: labels.map((l) => ({ name: l.name, image: 'debian', 'min-ready': l.minReady, providers: l.providers.map((name) => ({ name })) })),
    providers: providers.map((p) => ({
      name: p.name,
      driver: 'fake',
      'max-servers': p.maxServers ?? 10,
      rate: 0.001,
      'launch-timeout': 60,
      fake: {
        'state-file': p.stateFile ?? join(options.dir, `${p.name}.json`),
        latency: { create: 0.05, active: p.active ?? 0.2, delete: 0.1, upload: 0.1 },
      },
      images: [{ name: 'debian', 'min-ram': 1024, meta: { purpose: 'ci' } }],
    })),
    targets: [{ name: 'local' }],
    diskimages: [{ name: 'debian', elements: ['debian-minimal'], 'dib-cmd': FAKE_IMAGE_CREATE }],
    // Any free port: tests run side by side, and a daemon started without -d (or with the web server on) must not take 8005.
    webapp: { listen: '127.0.0.1', port: 0 },
  };
}

export function writePoolConfig(options: PoolConfigOptions): string {
  return writeConfigFile(options.dir, poolConfig(options));
}
