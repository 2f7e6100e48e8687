/** What a run does on a node it can reach: `true` over SSH on the node's SSH server, with the image's user and key. */
import { describe, expect, it } from 'vitest';
import { loadConfigOrThrow } from '../../../src/config/index.js';
import { systemClock } from '../../../src/core/clock.js';
import { sshWork, type SimulatedNode } from '../../../src/tools/ci-simulator/index.js';
import { minimalConfig, tempDir, writeConfigFile } from '../../support/config-files.js';
import { keyFile, makeKey, serverFor } from '../../ssh/fixtures.js';

const node: SimulatedNode = { id: 1, nodename: 'small-fake-a-1', label: 'small', provider: 'fake-a', ip: '203.0.113.7', createdAt: 1 };

function configWith(fake: Record<string, unknown>, privateKey?: string) {
  const base = minimalConfig();
  const providers = (base.providers as Record<string, unknown>[]).map((p) => ({
    ...p,
    fake,
    images: [{ name: 'debian', 'min-ram': 1024, ...(privateKey && { 'private-key': privateKey }) }],
  }));
  return loadConfigOrThrow(writeConfigFile(tempDir(), { ...base, providers }));
}

describe('the work of a run on its node', () => {
  it('is nothing on a simulated cloud without an SSH server', () => {
    const config = configWith({});
    expect(sshWork(() => config, systemClock)(node)).toBeUndefined();
  });

  it('runs `true` over SSH on the server that fake.ssh names, as the image’s user with its key', async () => {
    const key = makeKey();
    const server = await serverFor(key);
    const config = configWith({ ssh: `127.0.0.1:${server.port}` }, keyFile(key));
    await sshWork(() => config, systemClock)(node);
    expect(server.received.commands).toEqual(['true']);
    expect(server.received.auth.filter((a) => a.accepted).map((a) => a.username)).toEqual(['jenkins']);
  });

  it('fails when the node’s SSH server refuses the key', async () => {
    const server = await serverFor(makeKey());
    const config = configWith({ ssh: `127.0.0.1:${server.port}` }, keyFile(makeKey()));
    await expect(sshWork(() => config, systemClock)(node)).rejects.toThrow(/auth/i);
  });
});
