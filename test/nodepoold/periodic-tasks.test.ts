import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NodepoolConfig, ProviderImage } from '../../src/config/types.js';
import { type Database, type NodeRecord, type NodeState, openDatabase } from '../../src/db/index.js';
import { FakeCloud, FakeDriver } from '../../src/drivers/fake/index.js';
import { type CleanupReport, type LeakedServer, PeriodicTasks, type PeriodicTasksDeps, formatAge } from '../../src/nodepoold/periodic-tasks.js';
import { GatewayRegistry } from '../../src/gateway/index.js';
import { Logging } from '../../src/log/index.js';
import { serverMetadata } from '../../src/core/server-metadata.js';
import { fakeProvider, fakeSettings, until } from '../drivers/fake/helpers.js';
import { memoryLogger } from '../streams/support.js';
import { createTempSqliteUri } from '../support/databases.js';

const HOUR = 3_600_000;
const START = Date.parse('2024-01-01T00:30:00Z');

const image: ProviderImage = {
  name: 'debian',
  diskimage: 'debian',
  minRam: 1024,
  pause: false,
  username: 'jenkins',
  userHome: '/home/jenkins',
  privateKey: '/var/lib/jenkins/.ssh/id_rsa',
  meta: {},
};

interface WorldOptions {
  cleanFloatingIps?: boolean;
  sshCheck?: PeriodicTasksDeps['sshCheck'];
  checkConcurrency?: number;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A provider `east` on a simulated cloud, a real SQLite database, and the tasks over them. */
async function world(options: WorldOptions = {}) {
  const clock = new SimulatedClock();
  clock.set(START);
  const db: Database = await openDatabase(createTempSqliteUri(), { now: () => clock.now() });
  const cloud = new FakeCloud(fakeSettings({ latency: { create: 0, active: 0, delete: 0 } }), { clock, name: 'east' });
  const imageId = cloud.addImage('debian').id;
  const { logger, lines, waitForLine } = memoryLogger();
  const provider = { ...fakeProvider('east', cloud.settings), rate: 0, cleanFloatingIps: options.cleanFloatingIps ?? false, images: [image] };
  const gateways = new GatewayRegistry({ logging: new Logging(), clock, makeDriver: () => new FakeDriver(cloud, 'east') });
  const runtime = gateways.open(provider);
  const config: NodepoolConfig = {
    cron: { cleanup: '27 */6 * * *', check: '*/15 * * * *' },
    zmqPublishers: [],
    gearmanServers: [],
    gearmanPollIntervalS: 10,
    actorHistoryHours: 24,
    providerLeaseSeconds: 20,
    providerLeaseRenewSeconds: 5,
    labels: [{ name: 'small', image: 'debian', minReady: 1, subnodes: 0, providers: [{ name: 'east' }] }],
    providers: [provider],
    targets: [],
    diskimages: [],
    webapp: { listen: '127.0.0.1', port: 8005 },
  };
  const deleted: { id: number; provider: string; reason: string }[] = [];
  /** Leaked servers handed to the provider actor (which deletes them: test/nodepoold/daemon.test.ts). */
  const orphans: LeakedServer[] = [];
  let deletes = true;
  const tasks = new PeriodicTasks({
    db,
    config: () => config,
    gateways: () => [runtime],
    deleteNode: (node, reason) => deleted.push({ id: node.id, provider: node.provider, reason }),
    deleteOrphan: (server) => orphans.push(server),
    log: logger,
    clock,
    deletesAllowed: () => deletes,
    ...(options.sshCheck && { sshCheck: options.sshCheck }),
    ...(options.checkConcurrency !== undefined && { checkConcurrency: options.checkConcurrency }),
  });
  closers.push(async () => {
    await tasks.stop();
    await gateways.close();
    await db.close();
  });

  const node = (state: NodeState, ageMs = 0, fields: Partial<NodeRecord> = {}) =>
    db.nodes.create({ provider: 'east', label: 'small', target: 'local', state, stateTime: clock.now() - ageMs, ip: '203.0.113.7', ...fields });
  /** A server as a launch creates it: metadata naming `provider` and `nodeId`. */
  const server = async (nodeId: number, provider = 'east') =>
    (await cloud.createServer({ name: `small-${provider}-${nodeId}`, imageId, flavorId: 'm1.small', metadata: serverMetadata({ image: 'debian', provider, nodeId, meta: {} }) })).id;
  const foreignServer = async () => (await cloud.createServer({ name: 'someone-elses', imageId, flavorId: 'm1.small', metadata: { owner: 'ops' } })).id;

  return {
    clock, db, cloud, runtime, config, tasks, deleted, orphans, lines, waitForLine, node, server, foreignServer,
    setDeletes: (allowed: boolean) => { deletes = allowed; },
    alive: async (id: string) => (await cloud.listServers()).some((s) => s.id === id),
  };
}

describe('cleanup: leaked instances', () => {
  // That the provider actor then deletes it, and the log says so: test/nodepoold/daemon.test.ts.
  it('a server whose metadata names a node without a row is handed to its provider actor as leaked', async () => {
    const w = await world();
    await w.node('ready'); // id 1
    const gone = await w.node('ready'); // id 2, row removed below
    await w.node('ready'); // id 3: the highest id read
    const leaked = await w.server(gone.id);
    await w.db.nodes.delete(gone.id);

    const report = await w.tasks.cleanup();

    expect(report.leakedServers).toEqual([{ provider: 'east', serverId: leaked, nodeId: gone.id }]);
    expect(w.orphans).toEqual([{ provider: 'east', serverId: leaked, nodeId: gone.id }]);
    expect(w.lines.some((l) => l.msg === `deleting leaked instance ${leaked} of node ${gone.id} in east`)).toBe(true);
    expect(w.deleted).toEqual([]);
  });

  it('keeps the server of a node that has a row, in any state', async () => {
    const w = await world();
    const building = await w.node('building');
    const ready = await w.node('ready');
    const servers = [await w.server(building.id), await w.server(ready.id)];

    const report = await w.tasks.cleanup();

    expect(report.leakedServers).toEqual([]);
    for (const id of servers) expect(await w.alive(id)).toBe(true);
  });

  it('never touches a server without nodepool metadata: it is the cloud owner\'s', async () => {
    const w = await world();
    await w.node('ready');
    const foreign = await w.foreignServer();
    const report = await w.tasks.cleanup();
    expect(report.leakedServers).toEqual([]);
    expect(await w.alive(foreign)).toBe(true);
  });

  it('keeps a server whose metadata names another provider', async () => {
    const w = await world();
    const gone = await w.node('ready');
    await w.node('ready');
    const west = await w.server(gone.id, 'west'); // a node of west's, unknown to this database
    await w.db.nodes.delete(gone.id);
    const report = await w.tasks.cleanup();
    expect(report.leakedServers).toEqual([]);
    expect(await w.alive(west)).toBe(true);
  });

  it('keeps a server whose node id is above the highest id read: a launch in flight wrote its row after the read', async () => {
    const w = await world();
    const only = await w.node('ready');
    const inFlight = await w.server(only.id + 1); // its row does not exist for this run
    const report = await w.tasks.cleanup();
    expect(report.leakedServers).toEqual([]);
    expect(await w.alive(inFlight)).toBe(true);
  });

  it('keeps a server that a sub-node row names by its external id', async () => {
    const w = await world();
    const parent = await w.node('ready');
    const gone = await w.node('ready');
    await w.node('ready');
    const sub = await w.server(gone.id);
    await w.db.nodes.delete(gone.id);
    await w.db.subnodes.create({ nodeId: parent.id, externalId: sub, state: 'ready' });
    const report = await w.tasks.cleanup();
    expect(report.leakedServers).toEqual([]);
    expect(await w.alive(sub)).toBe(true);
  });

  it('lists the servers afresh, once per provider', async () => {
    const w = await world();
    await w.runtime.listServers();
    w.cloud.resetCalls();
    await w.tasks.cleanup();
    expect(w.cloud.calls.listServers).toBe(1);
  });
});

describe('cleanup: stuck nodes', () => {
  it('deletes a node stuck in building for 9 h, and nothing younger than the cleanup age', async () => {
    const w = await world();
    const stuck = await w.node('building', 9 * HOUR);
    await w.node('building', 1 * HOUR);
    const report = await w.tasks.cleanup();
    expect(report.stuckNodes.map((n) => n.id)).toEqual([stuck.id]);
    expect(w.deleted).toEqual([{ id: stuck.id, provider: 'east', reason: 'stuck in building for 9h00m' }]);
  });

  it('never deletes a ready or held node, however old', async () => {
    const w = await world();
    await w.node('ready', 500 * HOUR);
    await w.node('hold', 500 * HOUR);
    const report = await w.tasks.cleanup();
    expect(report.stuckNodes).toEqual([]);
    expect(w.deleted).toEqual([]);
  });

  it('a used node counts from its state time; a test node gets the shorter test age', async () => {
    const w = await world();
    const used = await w.node('used', 8 * HOUR + 60_000);
    const oldTest = await w.node('test', 3 * HOUR);
    await w.node('test', 1 * HOUR);
    await w.node('used', 7 * HOUR);
    await w.tasks.cleanup();
    expect(w.deleted.map((d) => d.id)).toEqual([used.id, oldTest.id]);
    expect(w.deleted[1]?.reason).toBe('stuck in test for 3h00m');
  });
});

describe('cleanup: floating IPs', () => {
  it('leaves floating IPs alone without clean-floating-ips', async () => {
    const w = await world();
    w.cloud.addFloatingIp();
    const report = await w.tasks.cleanup();
    expect(report.floatingIps).toEqual([]);
    expect(w.cloud.calls.listFloatingIps).toBe(0);
    expect(await w.cloud.listFloatingIps()).toHaveLength(1);
  });

  it('with clean-floating-ips, removes the unattached ones and keeps the attached', async () => {
    const w = await world({ cleanFloatingIps: true });
    const loose = [w.cloud.addFloatingIp(), w.cloud.addFloatingIp()];
    const attached = w.cloud.addFloatingIp({ attached: true });
    const report = await w.tasks.cleanup();
    expect(report.floatingIps.map((f) => f.id)).toEqual(loose.map((f) => f.id));
    expect((await w.cloud.listFloatingIps()).map((f) => f.id)).toEqual([attached.id]);
  });
});

describe('cleanup under --no-deletes', () => {
  it('reports what it would delete and deletes nothing', async () => {
    const w = await world({ cleanFloatingIps: true });
    w.setDeletes(false);
    const stuck = await w.node('building', 9 * HOUR);
    const gone = await w.node('ready');
    await w.node('ready');
    const leaked = await w.server(gone.id);
    await w.db.nodes.delete(gone.id);
    const ip = w.cloud.addFloatingIp();

    const report = await w.tasks.cleanup();

    expect(report.deletesAllowed).toBe(false);
    expect(report.stuckNodes.map((n) => n.id)).toEqual([stuck.id]);
    expect(report.leakedServers.map((s) => s.serverId)).toEqual([leaked]);
    expect(report.floatingIps.map((f) => f.id)).toEqual([ip.id]);
    expect(w.deleted).toEqual([]);
    expect(await w.alive(leaked)).toBe(true);
    expect(await w.cloud.listFloatingIps()).toHaveLength(1);
    expect(w.cloud.calls.deleteServer + w.cloud.calls.deleteFloatingIp).toBe(0);
    const summary = w.lines.find((l) => l.msg.startsWith('cleanup:'));
    expect(summary?.msg).toContain('would delete (--no-deletes) 1 stuck node(s), 1 leaked instance(s), 1 floating IP(s)');
  });
});

describe('check', () => {
  it('deletes a ready node that does not answer and keeps one that does', async () => {
    const w = await world({
      sshCheck: async (node) => {
        if (node.id === 1) throw new Error('connection refused');
      },
    });
    await w.node('ready');
    await w.node('ready');
    await w.node('building'); // not checked at all
    const report = await w.tasks.check();
    expect(report.answered).toEqual([2]);
    expect(report.unanswered).toEqual([{ id: 1, provider: 'east', error: 'connection refused' }]);
    expect(w.deleted).toEqual([{ id: 1, provider: 'east', reason: 'did not answer the periodic SSH check: connection refused' }]);
  });

  it('keeps a node a job took while it was being checked', async () => {
    const w = await world({
      sshCheck: async (node) => {
        await w.db.nodes.setState(node.id, 'used');
        throw new Error('connection reset');
      },
    });
    await w.node('ready');
    const report = await w.tasks.check();
    expect(report.unanswered).toEqual([]);
    expect(report.notChecked).toEqual([{ id: 1, reason: 'now used' }]);
    expect(w.deleted).toEqual([]);
  });

  it('under --no-deletes, checks and reports but deletes nothing', async () => {
    const w = await world({ sshCheck: () => Promise.reject(new Error('timed out')) });
    w.setDeletes(false);
    await w.node('ready');
    const report = await w.tasks.check();
    expect(report.unanswered.map((n) => n.id)).toEqual([1]);
    expect(w.deleted).toEqual([]);
  });

  it('checks a few nodes at a time', async () => {
    let inFlight = 0;
    let most = 0;
    const w = await world({
      checkConcurrency: 3,
      sshCheck: async () => {
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
      },
    });
    for (let i = 0; i < 10; i++) await w.node('ready');
    const report = await w.tasks.check();
    expect(report.answered).toHaveLength(10);
    expect(most).toBe(3);
  });

  it('on the simulated cloud without fake.ssh, every node answers', async () => {
    const w = await world();
    await w.node('ready');
    const report = await w.tasks.check();
    expect(report.answered).toEqual([1]);
  });
});

describe('schedules', () => {
  it('runs cleanup at the configured cron times (27 */6 * * *)', async () => {
    const w = await world();
    const cleanup = vi.spyOn(w.tasks, 'cleanup');
    w.tasks.start();
    w.clock.set(Date.parse('2024-01-01T06:26:59Z'));
    expect(cleanup).not.toHaveBeenCalled();
    w.clock.set(Date.parse('2024-01-01T06:27:00Z'));
    expect(cleanup).toHaveBeenCalledTimes(1);
    await w.waitForLine((l) => l.msg.startsWith('cleanup:'));
    w.clock.set(Date.parse('2024-01-01T12:26:00Z'));
    expect(cleanup).toHaveBeenCalledTimes(1);
  });

  it('runs check every 15 minutes', async () => {
    const w = await world();
    const check = vi.spyOn(w.tasks, 'check');
    w.tasks.start();
    const summaries = () => w.lines.filter((l) => l.msg.startsWith('check:')).length;
    for (const [i, minute] of ['00:45', '01:00', '01:15'].entries()) {
      w.clock.set(Date.parse(`2024-01-01T${minute}:00Z`));
      await until(() => summaries() === i + 1, `check ${i + 1} done`);
    }
    expect(check).toHaveBeenCalledTimes(3);
  });

  it('a changed cron line takes effect on reschedule()', async () => {
    const w = await world();
    const cleanup = vi.spyOn(w.tasks, 'cleanup');
    w.tasks.start();
    w.config.cron = { ...w.config.cron, cleanup: '0 1 * * *' };
    w.tasks.reschedule();
    w.clock.set(Date.parse('2024-01-01T01:00:00Z'));
    expect(cleanup).toHaveBeenCalledTimes(1);
    w.clock.set(Date.parse('2024-01-01T06:27:00Z'));
    expect(cleanup).toHaveBeenCalledTimes(1);
  });

  it('an invalid new cron line is refused and the old one kept', async () => {
    const w = await world();
    const cleanup = vi.spyOn(w.tasks, 'cleanup');
    w.tasks.start();
    w.config.cron = { ...w.config.cron, cleanup: 'every six hours' };
    w.tasks.reschedule();
    expect(w.lines.some((l) => l.level === 'error' && l.msg.includes("keeping '27 */6 * * *'"))).toBe(true);
    w.clock.set(Date.parse('2024-01-01T06:27:00Z'));
    expect(cleanup).toHaveBeenCalledTimes(1);
  });

  it('stop() ends the schedules', async () => {
    const w = await world();
    const cleanup = vi.spyOn(w.tasks, 'cleanup');
    w.tasks.start();
    await w.tasks.stop();
    w.clock.set(Date.parse('2024-01-02T00:00:00Z'));
    expect(cleanup).not.toHaveBeenCalled();
  });
});

describe('overlapping runs', () => {
  it('a check still running when the next one is due is not run twice', async () => {
    let release: () => void = () => {};
    const blocked = new Promise<void>((resolve) => { release = resolve; });
    const sshCheck = vi.fn(() => blocked);
    const w = await world({ sshCheck });
    await w.node('ready');
    w.tasks.start();
    w.clock.set(Date.parse('2024-01-01T00:45:00Z'));
    await until(() => sshCheck.mock.calls.length === 1, 'first check started');
    w.clock.set(Date.parse('2024-01-01T01:00:00Z'));
    expect(w.lines.some((l) => l.msg === 'check: the previous run is still going; skipping this one')).toBe(true);
    release();
    await w.waitForLine((l) => l.msg.startsWith('check: 1 of 1'));
    expect(sshCheck).toHaveBeenCalledTimes(1);
  });

  it('a cleanup called while one is under way returns a skipped report and deletes nothing twice', async () => {
    const w = await world();
    const gone = await w.node('ready');
    await w.node('ready');
    await w.server(gone.id);
    await w.db.nodes.delete(gone.id);
    const [first, second]: CleanupReport[] = await Promise.all([w.tasks.cleanup(), w.tasks.cleanup()]);
    expect(first?.skipped).toBe(false);
    expect(first?.leakedServers).toHaveLength(1);
    expect(second?.skipped).toBe(true);
    expect(second?.leakedServers).toEqual([]);
    // Handed to its provider actor once (which deletes it once: test/nodepoold/daemon.test.ts).
    expect(w.orphans).toHaveLength(1);
    // Once the first has finished, the next run goes ahead.
    expect((await w.tasks.cleanup()).skipped).toBe(false);
  });
});

describe('formatAge', () => {
  it('reads as hours and minutes', () => {
    expect(formatAge(9 * HOUR)).toBe('9h00m');
    expect(formatAge(2 * HOUR + 5 * 60_000)).toBe('2h05m');
    expect(formatAge(45 * 60_000)).toBe('45m');
    expect(formatAge(30_000)).toBe('30s');
  });
});
