import { join } from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { tempDir } from '../support/config-files.js';
import { describeEachBackend } from '../support/databases.js';
import { startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { writePoolConfig } from '../support/pool-config.js';
import { liveServers } from '../support/fake-cloud-state.js';

const running: RunningDaemon[] = [];
afterEach(async (context) => {
  const failed = context.task.result?.state === 'fail';
  for (const daemon of running.splice(0)) {
    // A failure is easier to read with what the daemons said last.
    if (failed) console.error(`nodepoold ${daemon.pid} said last:\n${daemon.tail()}`);
    await daemon.kill();
  }
});

describeEachBackend('nodepoold killed with SIGKILL and started again', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });

  it('brings every node in flight to ready or deletes it, and leaves no server unaccounted for', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const stateFile = join(dir, 'fake-a.json');
    // Servers take 4 s to go ACTIVE, so 20 nodes are in flight when the daemon is killed.
    const configFile = writePoolConfig({
      dir,
      dburi: backend.uri,
      providers: [{ name: 'fake-a', maxServers: 30, active: 4, stateFile }],
      labels: [
        { name: 'small', minReady: 12, providers: ['fake-a'] },
        { name: 'large', minReady: 8, providers: ['fake-a'] },
      ],
    });

    const first = startNodepoold(['-c', configFile]);
    running.push(first);
    await waitFor('20 nodes building, most with a server', async () => {
      const nodes = await db.nodes.list();
      return nodes.length === 20 && nodes.filter((n) => n.externalId).length >= 10 && nodes.every((n) => n.state === 'building');
    }, { timeoutMs: 40_000, intervalMs: 20 });
    await first.kill();
    const atKill = await db.nodes.list();
    expect(atKill.filter((n) => n.state === 'building')).toHaveLength(20);

    const second = startNodepoold(['-c', configFile]);
    running.push(second);
    await second.waitForLog('the restore', (l) => /resuming 20 node\(s\)/.test(l.msg));
    await waitFor(
      '20 ready nodes and nothing else',
      async () => {
        const nodes = await db.nodes.list();
        return nodes.length === 20 && nodes.every((n) => n.state === 'ready');
      },
      { timeoutMs: 60_000 },
    );

    // The same nodes, not new ones: the work in flight was resumed, not thrown away.
    const after = await db.nodes.list();
    expect(after.map((n) => n.id)).toEqual(atKill.map((n) => n.id));
    // Each restored node kept the server it had created before the kill.
    for (const before of atKill.filter((n) => n.externalId)) {
      expect(after.find((n) => n.id === before.id)?.externalId).toBe(before.externalId);
    }
    // Every server in the cloud belongs to a node row, and every row's server exists: nothing leaked.
    const servers = liveServers(stateFile);
    expect(servers.map((s) => s.id).sort()).toEqual(after.map((n) => n.externalId).sort());
    expect(second.lines.filter((l) => l.level === 'error')).toEqual([]);

    // A node killed while deleting finishes its delete after the restart.
    const doomed = after.slice(0, 3);
    await db.transaction(async (tx) => {
      for (const node of doomed) {
        await tx.nodes.setState(node.id, 'delete');
        await tx.changes.append('node', node.id, 'delete');
      }
    });
    await second.waitForLog('a delete under way', (l) => l.state === 'delete' && l.node === doomed[0]?.id);
    await second.kill();

    const third = startNodepoold(['-c', configFile]);
    running.push(third);
    await waitFor(
      'the deleted nodes gone and replaced',
      async () => {
        const nodes = await db.nodes.list();
        return nodes.every((n) => !doomed.some((d) => d.id === n.id)) && nodes.filter((n) => n.state === 'ready').length === 20;
      },
      { timeoutMs: 60_000 },
    );
    for (const node of doomed) expect(liveServers(stateFile).some((s) => s.id === node.externalId)).toBe(false);
    const finalNodes = await db.nodes.list();
    expect(liveServers(stateFile).map((s) => s.id).sort()).toEqual(finalNodes.map((n) => n.externalId).sort());
    expect(await third.stop()).toBe(0);
  });
});
