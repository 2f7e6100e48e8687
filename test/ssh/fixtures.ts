import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterEach } from 'vitest';
import { startSshServer, type TestSshServer, type TestSshServerOptions } from '../support/ssh-server.js';

export interface KeyPair {
  private: string;
  public: string;
}

/**
 * ed25519: quick to make, so every test can have its own. ssh2 1.17's
 * generator drops a leading zero byte of the public key (about 1 key in 256),
 * making a key its own parser rejects: make another one then.
 */
export function makeKey(): KeyPair {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(pair.public) instanceof Error)) return { private: pair.private, public: pair.public };
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A server for `user` accepting `key`, closed after the test. */
export async function serverFor(key: KeyPair, extra: Partial<TestSshServerOptions> = {}): Promise<TestSshServer> {
  const server = await startSshServer({ username: 'jenkins', publicKey: key.public, ...extra });
  cleanups.push(() => server.close());
  return server;
}

/** The key written to a 0600 file, as an image's `private-key` setting names it. */
export function keyFile(key: KeyPair): string {
  const directory = mkdtempSync(join(tmpdir(), 'nodepool-key-'));
  const path = join(directory, 'id_ed25519');
  writeFileSync(path, key.private);
  chmodSync(path, 0o600);
  cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
  return path;
}
