import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/index.js';
import { runExecutable } from '../support/cli.js';
import { tempDir, writeConfigFile } from '../support/config-files.js';
import { startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { poolConfig } from '../support/pool-config.js';
import { liveServers } from '../support/fake-cloud-state.js';

const running: RunningDaemon[] = [];
afterEach(async () => {
  for (const daemon of running.splice(0)) await daemon.kill();
});

describe('nodepoold with sub-nodes', () => {
  it('launches each node with its sub-nodes, and deletes them with it', { timeout: 90_000 }, async () => {
    const dir = tempDir();
    const dburi = `sqlite://${join(dir, 'np.db')}`;
    const config = poolConfig({ dir, dburi, labels: [{ name: 'multi', minReady: 2, providers: ['fake-a'] }] });
    const [label] = config.labels as Record<string, unknown>[];
    Object.assign(label ?? {}, { subnodes: 2 });
    const configFile = writeConfigFile(dir, config);
    const stateFile = join(dir, 'fake-a.json');
    const daemon = startNodepoold(['-c', configFile]);
    running.push(daemon);
    const db = await openDatabase(dburi);
    try {
      await waitFor('2 ready nodes, each with 2 ready sub-nodes', async () => {
        const nodes = await db.nodes.list({ state: 'ready' });
        if (nodes.length !== 2) return false;
        for (const node of nodes) {
          const subs = await db.subnodes.listForNode(node.id);
          if (subs.length !== 2 || subs.some((s) => s.state !== 'ready' || !s.externalId || !s.ip)) return false;
        }
        return true;
      }, { timeoutMs: 30_000 });
      const [node, other] = await db.nodes.list();
      if (!node || !other) throw new Error('expected two nodes');
      const subs = await db.subnodes.listForNode(node.id);
      const servers = liveServers(stateFile);
      expect(servers).toHaveLength(6);
      for (const sub of subs) {
        const server = servers.find((s) => s.id === sub.externalId);
        expect(JSON.parse(server?.metadata.nodepool ?? '{}')).toEqual({ image_name: 'debian', provider_name: 'fake-a', node_id: node.id, subnode_id: sub.id });
        expect(server?.name).toBe(`multi-fake-a-${node.id}-${sub.id}`);
        expect(server?.availabilityZone).toBe(servers.find((s) => s.id === node.externalId)?.availabilityZone);
      }

      expect((await runExecutable('nodepool', ['-c', configFile, 'delete', String(node.id)])).code).toBe(0);
      await waitFor('the node and its sub-nodes gone from the database and the cloud', async () => {
        const gone = !(await db.nodes.get(node.id)) && (await db.subnodes.listForNode(node.id)).length === 0;
        const ids = [node.externalId, ...subs.map((s) => s.externalId)];
        return gone && !liveServers(stateFile).some((s) => ids.includes(s.id));
      }, { timeoutMs: 30_000 });
      const order = daemon.lines.filter((l) => (l.subnode !== undefined || l.node === node.id) && l.state === 'removed');
      expect(order.at(-1)?.node).toBe(node.id); // the sub-nodes went first
      await waitFor('a replacement with its sub-nodes', async () => {
        const ready = await db.nodes.list({ state: 'ready' });
        if (ready.length !== 2) return false;
        const counts = await Promise.all(ready.map(async (n) => (await db.subnodes.listForNode(n.id)).filter((s) => s.state === 'ready').length));
        return counts.every((c) => c === 2);
      }, { timeoutMs: 30_000 });
      expect(liveServers(stateFile)).toHaveLength(6);
      expect(await daemon.stop()).toBe(0);
    } finally {
      await db.close();
    }
  });
});
