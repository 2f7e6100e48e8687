/**
 * nodepoold at the daemon layer, in this process: the real actor host,
 * workloads, gateways and persistence on SQLite and MariaDB, over simulated
 * clouds, with time on a simulated clock. Launch timeouts of minutes,
 * supervision, restarts and persistence are driven in milliseconds.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { serverMetadata } from '../../src/core/server-metadata.js';
import type { Database } from '../../src/db/index.js';
import { fakeCloudFor } from '../../src/drivers/fake/index.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { tempDir } from '../support/config-files.js';
import { describeEachBackend } from '../support/databases.js';
import { cloudState, liveServers } from '../support/fake-cloud-state.js';
import { waitFor } from '../support/daemon.js';
import { harnessDatabase, startHarness, stopHarnesses, type Harness } from '../support/harness.js';
import { oneProviderConfig, type OneProviderOptions } from '../support/one-provider.js';

/** One simulated provider, one label: min-ready 2 unless a test says otherwise. */
const config = (dir: string, dburi: string, o: OneProviderOptions = {}) => oneProviderConfig(dir, dburi, { minReady: 2, ...o });

afterEach(async () => {
  await stopHarnesses();
});

describeEachBackend('nodepoold in one process, on a simulated clock', (backend) => {
  const database = harnessDatabase(backend);
  let db: Database;
  beforeEach(() => {
    db = database();
  });

  async function nodepoold(dir: string, o: Parameters<typeof config>[2] = {}) {
    return startHarness({ db, dir, config: config(dir, backend.uri, o) });
  }
  const ready = async (h: Harness) => (await h.db.nodes.list({ state: 'ready' })).length;

  it('fills min-ready, each node row and snapshot written together', async () => {
    const h = await nodepoold(tempDir());
    await h.until('2 ready nodes', async () => (await ready(h)) === 2);
    for (const node of await db.nodes.list()) {
      const saved = await db.snapshots.get(`node-${node.id}`);
      expect(saved?.kind).toBe('node');
      expect((saved?.snapshot as { value: unknown }).value).toBe('ready');
      expect((saved?.snapshot as { context: { serverId: string } }).context.serverId).toBe(node.externalId);
    }
  });

  it('a node whose server never leaves BUILD fails at the launch timeout, is deleted with its server, and is replaced', async () => {
    const dir = tempDir();
    const h = await nodepoold(dir, { minReady: 1, launchTimeout: 120, failureRate: { 'stuck-in-build': 1 } });
    const first = await h.until('a node with a server', async () => (await db.nodes.list()).find((n) => n.externalId));
    const launchedAt = h.clock.now();
    await h.until('the first node gone', async () => !(await db.nodes.get(first.id)), { stepMs: 5_000 });
    expect(h.clock.now() - launchedAt).toBeGreaterThanOrEqual(115_000);
    expect(h.logged((l) => l.node === first.id && /launch failed: not ready within the launch timeout of 120 s/.test(l.msg))).toHaveLength(1);
    expect(liveServers(join(dir, 'fake-a.json')).some((s) => s.id === first.externalId)).toBe(false);
    expect(await db.snapshots.get(`node-${first.id}`)).toBeUndefined();
    // min-ready asks again: a new node is on its way.
    await h.until('a replacement', async () => (await db.nodes.list()).some((n) => n.id !== first.id));
  });

  it('the launch deadline covers every step: a create that never answers fails at the launch timeout too', async () => {
    const h = await nodepoold(tempDir(), { minReady: 1, launchTimeout: 60, latency: { create: 7_200 } });
    const first = await h.until('a node', async () => (await db.nodes.list())[0]);
    await h.until('the node failed', () => h.logged((l) => l.node === first.id && /launch failed/.test(l.msg))[0], { stepMs: 5_000, simulatedMs: 5 * 60_000 });
    const failure = h.logged((l) => l.node === first.id && /launch failed/.test(l.msg))[0];
    expect(failure?.reason).toBe('timeout');
    expect(h.clock.now()).toBeLessThan(first.createdAt + 2 * 60_000);
  });

  it('a node with two sub-nodes is ready after them; deleting it deletes the sub-nodes first', async () => {
    const dir = tempDir();
    const h = await nodepoold(dir, { minReady: 1, subnodes: 2 });
    const node = await h.until('a ready node', async () => (await db.nodes.list({ state: 'ready' }))[0]);
    const subnodes = await db.subnodes.listForNode(node.id);
    expect(subnodes.map((s) => s.state)).toEqual(['ready', 'ready']);
    await db.transaction(async (tx) => {
      await tx.nodes.setState(node.id, 'delete');
      await tx.changes.append('node', node.id, 'delete');
    });
    await h.until('the node gone', async () => !(await db.nodes.get(node.id)));
    const deletes = h.logged(/^deleting server /).map((l) => l.server as string);
    const own = deletes.indexOf(node.externalId as string);
    for (const sub of subnodes) expect(deletes.indexOf(sub.externalId as string)).toBeLessThan(own);
    expect(await db.snapshots.get(`subnode-${subnodes[0]?.id}`)).toBeUndefined();
  });

  it('stopped mid-launch and started again, it resumes the same nodes with the servers they had', async () => {
    const dir = tempDir();
    const stateFile = join(dir, 'fake-a.json');
    const first = await nodepoold(dir, { minReady: 3, latency: { create: 1, active: 30 } });
    await first.until('3 servers created', async () => (await db.nodes.list()).filter((n) => n.externalId).length === 3);
    const before = await db.nodes.list();
    await first.stop();
    // Saved as running: the stop of the process is not the end of the node.
    for (const node of before) expect((await db.snapshots.get(`node-${node.id}`))?.snapshot).toMatchObject({ status: 'active' });

    const second = await nodepoold(dir, { minReady: 3, latency: { create: 1, active: 30 } });
    await second.until('3 ready nodes', async () => (await ready(second)) === 3, { stepMs: 2_000 });
    const after = await db.nodes.list();
    expect(after.map((n) => [n.id, n.externalId])).toEqual(before.map((n) => [n.id, n.externalId]));
    expect(liveServers(stateFile).map((s) => s.id).sort()).toEqual(before.map((n) => n.externalId).sort());
    expect(second.logged(/resuming 3 node\(s\)/)[0]?.restored).toBe(3);
  });

  it('a delete the cloud refuses is logged with the cloud’s message, at ERROR once it keeps failing, and shown in the row’s comment', async () => {
    const dir = tempDir();
    const h = await nodepoold(dir, { minReady: 1, failureRate: { delete: 1 } });
    const node = await h.until('a ready node', async () => (await db.nodes.list({ state: 'ready' }))[0]);
    await db.transaction(async (tx) => {
      await tx.nodes.setState(node.id, 'delete');
      await tx.changes.append('node', node.id, 'delete');
    });
    const failures = () => h.logged((l) => l.node === node.id && /^deleting server .* failed/.test(l.msg));
    await h.until('three failed deletes', () => failures().length >= 3, { stepMs: 2_000 });
    const [first, , third] = failures();
    expect(first?.level).toBe('warn');
    expect(first?.msg).toContain(`deleting server ${node.externalId} of node ${node.id} failed (attempt 1): `);
    expect(first?.msg).toContain('HTTP 500');
    expect(third?.level).toBe('error');
    expect((await db.nodes.get(node.id))?.comment).toMatch(/^delete failed \(attempt \d+\): .*HTTP 500/);
    // The cloud accepts deletes again: the node goes, and so does its server.
    h.rewrite(config(dir, backend.uri, { minReady: 1, failureRate: { delete: 0 } }), { apply: true });
    await h.until('the node gone', async () => !(await db.nodes.get(node.id)), { stepMs: 2_000 });
  });

  it('a failed launch is logged at ERROR with its reason', async () => {
    const h = await nodepoold(tempDir(), { minReady: 1, failureRate: { 'error-status': 1 } });
    const failure = await h.until('a failed launch', () => h.logged(/^launch failed/)[0], { stepMs: 1_000 });
    expect(failure.level).toBe('error');
    expect(failure.reason).toBe('status');
    expect(failure.msg).toMatch(/ERROR/);
  });

  it('a database that stops answering: the actors go on, their states wait, and once it answers the rows catch up and lost nodes are replaced', async () => {
    const dir = tempDir();
    // An allocation interval far longer than the test: an allocation after the outage is one the catch-up asked for.
    const h = await startHarness({ db, dir, config: config(dir, backend.uri, { minReady: 3, latency: { create: 0.1, active: 0.5, delete: 0.1 } }), nodepoold: { allocateIntervalMs: 3_600_000 } });
    await h.until('3 ready nodes', async () => (await ready(h)) === 3);
    const before = await db.nodes.list();
    // The database goes away: every transaction fails as a refused connection does.
    const transaction = db.transaction.bind(db);
    let down = true;
    db.transaction = ((fn: never) => (down ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' })) : transaction(fn))) as typeof db.transaction;
    // Meanwhile the servers of two nodes vanish from the cloud.
    const cloud = fakeCloudFor(loadConfigOrThrow(h.configFile).providers[0] as never);
    // A minute passes (by hand: the harness's own steps wait for the writes, which wait for the database).
    const removed = Promise.all(before.slice(0, 2).map((node) => cloud.deleteServer(node.externalId ?? '')));
    for (let second = 0; second < 60; second += 1) {
      h.simulated?.increment(1_000);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await removed;
    // The rows still say ready: nothing could be written.
    expect((await db.nodes.list({ state: 'ready' })).length).toBe(3);
    down = false;
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The writes try again at most 2 s after the database answers (the pause stops growing there) ...
    h.simulated?.increment(2_000);
    await waitFor('the kept states written', () => h.logged(/^the database answers again after \d+ s/).length === 1, { timeoutMs: 10_000 });
    // ... and an allocation follows at the pool's next ticks, not an allocation interval later.
    const relaunched = async () => (await db.nodes.list()).filter((n) => !before.some((b) => b.id === n.id)).length === 2;
    for (let tick = 0; tick < 4 && !(await relaunched()); tick += 1) {
      h.simulated?.increment(500);
      await waitFor('the next tick handled', async () => (await relaunched()) || undefined, { timeoutMs: 1_000 }).catch(() => undefined);
    }
    expect(await relaunched()).toBe(true);
    // By hand again: the writes wait out their pause on the simulated clock, which the harness's steps would wait for.
    const caughtUp = async () => {
      const rows = await db.nodes.list({ state: 'ready' });
      return rows.length === 3 && !rows.some((r) => r.id === before[0]?.id || r.id === before[1]?.id);
    };
    for (let second = 0; second < 300 && !(await caughtUp()); second += 1) {
      h.simulated?.increment(1_000);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await caughtUp()).toBe(true);
    expect(h.logged(/^the database does not answer/)).toHaveLength(1);
    expect(h.logged(/^the database answers again after \d+ s/)).toHaveLength(1);
    expect(h.logged(/could not persist the state of \d+ actor\(s\)$/)).toEqual([]);
  });

  it('a reload that changes the simulated cloud’s latencies takes effect without a restart', async () => {
    const dir = tempDir();
    const h = await nodepoold(dir, { minReady: 1, launchTimeout: 3_600, latency: { active: 2 } });
    const first = await h.until('a ready node', async () => (await db.nodes.list({ state: 'ready' }))[0]);
    h.rewrite(config(dir, backend.uri, { minReady: 1, launchTimeout: 3_600, latency: { active: 600 } }));
    await h.until('the reload', () => h.logged(/reaching the cloud with a new driver \(fake changed\)/)[0]);
    await db.transaction(async (tx) => {
      await tx.nodes.setState(first.id, 'delete');
      await tx.changes.append('node', first.id, 'delete');
    });
    const second = await h.until('a replacement with a server', async () => (await db.nodes.list()).find((n) => n.id !== first.id && n.externalId));
    const createdAt = h.clock.now();
    await h.advance(300_000, 10_000);
    expect((await db.nodes.get(second.id))?.state).toBe('building');
    await h.until('the replacement ready', async () => (await db.nodes.get(second.id))?.state === 'ready', { stepMs: 10_000 });
    expect(h.clock.now() - createdAt).toBeGreaterThanOrEqual(590_000);
  });

  it('a leaked server is deleted once, by its provider actor, and the log says so', async () => {
    const dir = tempDir();
    const h = await nodepoold(dir, { minReady: 1 });
    await h.until('a ready node', async () => (await ready(h)) === 1);
    const [node] = await db.nodes.list();
    // A node whose row went while its server stayed (ids below the highest row are no launch in flight).
    const gone = await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', state: 'hold' });
    await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', state: 'hold' });
    await db.nodes.delete(gone.id);
    const cloud = fakeCloudFor(loadConfigOrThrow(h.configFile).providers[0] as never);
    const image = (await cloud.listImages())[0];
    const leaked = await h.settle('the leaked server made', cloud.createServer({
      name: 'left-behind',
      imageId: image?.id ?? '',
      flavorId: (await cloud.listFlavors())[0]?.id ?? '',
      metadata: serverMetadata({ image: 'debian', provider: 'fake-a', nodeId: gone.id, meta: {} }),
    }));
    const deletesBefore = cloud.calls.deleteServer;
    // The cleanup's calls wait their turn in the rate queue, on the simulated clock.
    const report = await h.settle('the cleanup', h.nodepoold?.periodic?.cleanup() ?? Promise.resolve(undefined));
    expect(report?.leakedServers.map((s) => s.serverId)).toEqual([leaked.id]);
    await h.until('the leaked server gone', () => !liveServers(join(dir, 'fake-a.json')).some((s) => s.id === leaked.id));
    await h.until('the log', () => h.logged(new RegExp(`^deleted leaked instance ${leaked.id} of node \\d+ in fake-a$`))[0]);
    expect(cloud.calls.deleteServer - deletesBefore).toBe(1);
    expect((await db.nodes.list({ state: 'ready' })).map((n) => n.id)).toEqual([node?.id]);
    expect(cloudState(join(dir, 'fake-a.json')).servers.find((s) => s.id === node?.externalId)?.deleteRequestedAt).toBeUndefined();
  });
});
