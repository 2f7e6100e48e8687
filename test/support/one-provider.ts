import { join } from 'node:path';
import { FAKE_IMAGE_CREATE } from './config-files.js';

export interface OneProviderOptions {
  minReady?: number;
  subnodes?: number;
  maxServers?: number;
  launchTimeout?: number;
  /** The simulated cloud's latencies (seconds) and failure rates, as `fake:` takes them. */
  latency?: Partial<Record<'create' | 'active' | 'delete' | 'upload', number>>;
  failureRate?: Partial<Record<'create' | 'error-status' | 'stuck-in-build' | 'delete' | 'upload', number>>;
  /** With a builder: images-dir under `dir`, and builds that take this many seconds (config/fake-image-create). */
  buildSeconds?: number;
}

/**
 * A nodepool.yaml with one simulated provider `fake-a` in a state file under
 * `dir`, one label `small` of image `debian`, and one diskimage built by the
 * stand-in for disk-image-create.
 */
export function oneProviderConfig(dir: string, dburi: string, o: OneProviderOptions = {}): Record<string, unknown> {
  return {
    dburi,
    ...(o.buildSeconds !== undefined && { 'images-dir': join(dir, 'images') }),
    labels: [{ name: 'small', image: 'debian', 'min-ready': o.minReady ?? 0, ...(o.subnodes && { subnodes: o.subnodes }), providers: [{ name: 'fake-a' }] }],
    providers: [{
      name: 'fake-a',
      driver: 'fake',
      'max-servers': o.maxServers ?? 10,
      rate: 0.001,
      'launch-timeout': o.launchTimeout ?? 600,
      fake: {
        'state-file': join(dir, 'fake-a.json'),
        latency: { create: 0.5, active: 2, delete: 1, upload: 0.05, ...o.latency },
        'failure-rate': { ...o.failureRate },
      },
      images: [{ name: 'debian', 'min-ram': 1024 }],
    }],
    targets: [{ name: 'local' }],
    diskimages: [{
      name: 'debian',
      elements: ['debian-minimal'],
      'dib-cmd': FAKE_IMAGE_CREATE,
      'env-vars': { FAKE_DIB_SLEEP: String(o.buildSeconds ?? 0) },
    }],
  };
}
