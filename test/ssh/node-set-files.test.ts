import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import {
  buildNodeSetFiles,
  generateNodeSetKeyPair,
  NODE_SET_FILE_NAMES,
  SftpWriteFailed,
  writeNodeSetFiles,
  type NodeSetKeyPair,
} from '../../src/ssh/index.js';
import { makeKey, serverFor } from './fixtures.js';

const keyPair: NodeSetKeyPair = { privateKey: '-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n', publicKey: 'ssh-rsa AAAAB3' };
const primary = { ip: '203.0.113.10', ipPrivate: '10.0.0.10' };
const subnodes = [
  { ip: '203.0.113.11', ipPrivate: '10.0.0.11' },
  { ip: '203.0.113.12', ipPrivate: null },
];
const provider = { name: 'rax-dfw', cloud: 'rax', region: 'DFW', az: 'az1' };

describe('node-set files (launch step 9)', () => {
  it('a sub-node learns its role, its own and the primary addresses, all sub-nodes, the shared key, the provider and its uuid', () => {
    const files = buildNodeSetFiles({ role: 'sub', node: subnodes[1]!, primary, subnodes, keyPair, provider, serverId: 'uuid-12' });

    expect(Object.keys(files)).toEqual([...NODE_SET_FILE_NAMES]);
    expect(files).toEqual({
      role: 'sub\n',
      node: '203.0.113.12\n',
      node_private: '203.0.113.12\n', // no private address: the public one
      primary_node: '203.0.113.10\n',
      primary_node_private: '10.0.0.10\n',
      sub_nodes: '203.0.113.11\n203.0.113.12\n',
      sub_nodes_private: '10.0.0.11\n203.0.113.12\n',
      id_rsa: keyPair.privateKey,
      'id_rsa.pub': 'ssh-rsa AAAAB3\n',
      provider: 'NODEPOOL_PROVIDER=rax-dfw\nNODEPOOL_CLOUD=rax\nNODEPOOL_REGION=DFW\nNODEPOOL_AZ=az1\n',
      uuid: 'uuid-12\n',
    });
  });

  it('a lone primary has empty sub-node lists, and a provider without region or AZ leaves them blank', () => {
    const files = buildNodeSetFiles({
      role: 'primary',
      node: primary,
      primary,
      subnodes: [],
      keyPair,
      provider: { name: 'fake provider', cloud: 'fake' },
      serverId: 'uuid-10',
    });

    expect(files.role).toBe('primary\n');
    expect(files.sub_nodes).toBe('');
    expect(files.sub_nodes_private).toBe('');
    expect(files.provider).toBe("NODEPOOL_PROVIDER='fake provider'\nNODEPOOL_CLOUD=fake\nNODEPOOL_REGION=\nNODEPOOL_AZ=\n");
  });

  it('the generated key pair is a matching RSA pair in PEM and OpenSSH form', async () => {
    const pair = await generateNodeSetKeyPair();

    expect(pair.privateKey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect(pair.publicKey).toMatch(/^ssh-rsa AAAA[A-Za-z0-9+/=]+$/);
    const parsed = ssh2.utils.parseKey(pair.privateKey);
    if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('unparsable');
    const signature = parsed.sign(Buffer.from('node set'));
    const publicKey = ssh2.utils.parseKey(pair.publicKey);
    if (publicKey instanceof Error || Array.isArray(publicKey)) throw new Error('unparsable');
    expect(publicKey.verify(Buffer.from('node set'), signature)).toBe(true);
  });

  it('are written over SFTP into /etc/nodepool, made if missing, id_rsa 0600 and the rest 0644', async () => {
    const key = makeKey();
    const server = await serverFor(key);
    const files = buildNodeSetFiles({ role: 'primary', node: primary, primary, subnodes, keyPair, provider, serverId: 'uuid-10' });

    const written = await writeNodeSetFiles({ host: server.host, port: server.port, username: 'jenkins', privateKey: key.private }, files);

    expect(written.map((w) => w.path)).toEqual(NODE_SET_FILE_NAMES.map((name) => `/etc/nodepool/${name}`));
    for (const name of NODE_SET_FILE_NAMES) {
      const local = server.pathOf(`/etc/nodepool/${name}`);
      expect(readFileSync(local, 'utf8'), name).toBe(files[name]);
      expect(statSync(local).mode & 0o777, name).toBe(name === 'id_rsa' ? 0o600 : 0o644);
    }
    expect(server.received.sftp.filter((r) => r.op === 'mkdir').map((r) => r.path)).toEqual(['/etc', '/etc/nodepool']);
  });

  it('overwrite files left from before, tightening a too-open id_rsa before the key goes in', async () => {
    const key = makeKey();
    const server = await serverFor(key);
    mkdirSync(server.pathOf('/etc/nodepool'), { recursive: true });
    writeFileSync(server.pathOf('/etc/nodepool/id_rsa'), 'an old and much longer key that must not survive\n', { mode: 0o644 });

    await writeNodeSetFiles({ host: server.host, port: server.port, username: 'jenkins', privateKey: key.private }, { id_rsa: 'new key\n' });

    expect(readFileSync(server.pathOf('/etc/nodepool/id_rsa'), 'utf8')).toBe('new key\n');
    expect(statSync(server.pathOf('/etc/nodepool/id_rsa')).mode & 0o777).toBe(0o600);
    const ops = server.received.sftp.filter((r) => r.path === '/etc/nodepool/id_rsa').map((r) => r.op);
    expect(ops).toEqual(['open', 'fsetstat', 'write', 'close']);
    expect(server.received.sftp.filter((r) => r.op === 'mkdir')).toEqual([]);
  });

  it('into another directory, with Buffer contents', async () => {
    const key = makeKey();
    const server = await serverFor(key);

    await writeNodeSetFiles(
      { host: server.host, port: server.port, username: 'jenkins', privateKey: key.private },
      { blob: Buffer.from([0, 1, 2, 255]) },
      { directory: '/opt/nodepool-scripts/info' },
    );

    expect([...readFileSync(server.pathOf('/opt/nodepool-scripts/info/blob'))]).toEqual([0, 1, 2, 255]);
  });

  it('fail with the path when the directory is a file', async () => {
    const key = makeKey();
    const server = await serverFor(key);
    mkdirSync(server.pathOf('/etc'), { recursive: true });
    writeFileSync(server.pathOf('/etc/nodepool'), '');

    const failure = await writeNodeSetFiles({ host: server.host, port: server.port, username: 'jenkins', privateKey: key.private }, { role: 'primary\n' }).catch(
      (error: unknown) => error,
    );

    expect(failure).toBeInstanceOf(SftpWriteFailed);
    expect((failure as Error).message).toBe(`sftp write of /etc/nodepool on jenkins@127.0.0.1:${server.port} failed: exists and is not a directory`);
  });
});
