import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/index.js';
import { tempDir, writeConfigFile } from '../support/config-files.js';
import { startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { poolConfig } from '../support/pool-config.js';
import { keyFile, makeKey, serverFor } from '../ssh/fixtures.js';

const running: RunningDaemon[] = [];
afterEach(async () => {
  for (const daemon of running.splice(0)) await daemon.kill();
});

/** A pool whose simulated nodes are reached over SSH at a real server on loopback. */
function sshPoolConfig(dir: string, sshPort: number, privateKey: string): Record<string, unknown> {
  const config = poolConfig({ dir, dburi: `sqlite://${join(dir, 'np.db')}`, labels: [{ name: 'small', minReady: 1, providers: ['fake-a'] }] });
  const [provider] = config.providers as Record<string, unknown>[];
  const fake = provider?.fake as Record<string, unknown>;
  fake.ssh = `127.0.0.1:${sshPort}`;
  Object.assign(provider ?? {}, { 'boot-timeout': 3 });
  const [image] = provider?.images as Record<string, unknown>[];
  Object.assign(image ?? {}, { username: 'jenkins', 'private-key': privateKey });
  const [label] = config.labels as Record<string, unknown>[];
  Object.assign(label ?? {}, { 'ready-script': 'ready.sh' });
  return config;
}

describe('nodepoold with fake.ssh', () => {
  it('makes a node ready only after a real SSH check, the node-set files and the ready script', { timeout: 60_000 }, async () => {
    const key = makeKey();
    const server = await serverFor(key);
    server.installScript('ready.sh', '#!/bin/sh\necho "ready on $1" > "$NODE_ROOT/ready-ran"\n');
    const dir = tempDir();
    const configFile = writeConfigFile(dir, sshPoolConfig(dir, server.port, keyFile(key)));
    const daemon = startNodepoold(['-c', configFile]);
    running.push(daemon);

    const ready = await daemon.waitForLog('a ready node', (l) => l.state === 'ready', 30_000);
    const db = await openDatabase(`sqlite://${join(dir, 'np.db')}`);
    const node = await db.nodes.get(ready.node as number);
    await db.close();

    expect(server.received.auth.some((a) => a.username === 'jenkins' && a.accepted)).toBe(true);
    expect(readFileSync(server.pathOf('/etc/nodepool/role'), 'utf8').trim()).toBe('primary');
    expect(readFileSync(server.pathOf('/etc/nodepool/node'), 'utf8').trim()).toBe(node?.ip);
    expect(readFileSync(server.pathOf('/etc/nodepool/uuid'), 'utf8').trim()).toBe(node?.externalId);
    expect(readFileSync(server.pathOf('/etc/nodepool/provider'), 'utf8')).toContain('NODEPOOL_PROVIDER=fake-a');
    expect(readFileSync(join(server.root, 'ready-ran'), 'utf8').trim()).toBe(`ready on ${node?.hostname}`);
    expect(await daemon.stop()).toBe(0);
  });

  it('deletes a node whose SSH check is refused, with the reason counted as auth', { timeout: 60_000 }, async () => {
    const server = await serverFor(makeKey());
    const dir = tempDir();
    const configFile = writeConfigFile(dir, sshPoolConfig(dir, server.port, keyFile(makeKey())));
    const daemon = startNodepoold(['-c', configFile]);
    running.push(daemon);
    const failure = await daemon.waitForLog('a failed launch', (l) => l.msg.startsWith('launch failed'), 30_000);
    expect(failure.reason).toBe('auth');
    await daemon.waitForLog('the failed node removed', (l) => l.node === failure.node && l.state === 'removed', 30_000);
    expect(daemon.lines.some((l) => l.state === 'ready')).toBe(false);
    await waitFor('the daemon still running', () => daemon.exitCode === undefined);
  });
});
