import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PROJECT_ROOT } from './cli.js';

/** The stand-in for disk-image-create: tests never run a real build unless they mean to. */
export const FAKE_IMAGE_CREATE = `${PROJECT_ROOT}config/fake-image-create`;

export function tempDir(prefix = 'nodepool-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A small valid nodepool.yaml (one fake provider, one label), with overrides on top. */
export function minimalConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    labels: [{ name: 'small', image: 'debian', 'min-ready': 1, providers: [{ name: 'fake-a' }] }],
    providers: [
      { name: 'fake-a', driver: 'fake', 'max-servers': 4, images: [{ name: 'debian', 'min-ram': 1024 }] },
    ],
    targets: [{ name: 'local' }],
    diskimages: [{ name: 'debian', elements: ['debian-minimal'], 'dib-cmd': FAKE_IMAGE_CREATE }],
    ...overrides,
  };
}

export function writeConfigFile(dir: string, config: Record<string, unknown>, name = 'nodepool.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, stringify(config));
  return file;
}
