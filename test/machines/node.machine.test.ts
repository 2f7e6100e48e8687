import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, type SnapshotFrom } from 'xstate';
import {
  DELETE_RETRY_MS,
  GONE_TIMEOUT_MS,
  nodeMachine,
  nodeStateOf,
  type ListedServer,
  type NodeFailure,
  type NodeInput,
} from '../../machines/node.machine.js';
import { deferred, flush } from '../support/deferred.js';


const T0 = 1_000_000;
const input: NodeInput = {
  nodeId: 7,
  role: 'primary',
  requestedAt: T0,
  launchTimeoutMs: 60_000,
  bootTimeoutMs: 30_000,
  subnodes: 0,
  hasTestJob: false,
  ipv6Preferred: false,
};

const active = (id = 'srv-1'): ListedServer => ({ id, status: 'ACTIVE', publicV4: '127.1.0.5', privateV4: '127.2.0.5' });

/** A node machine with effects the test controls and records. */
function harness(options: { deletesAllowed?: boolean; snapshot?: SnapshotFrom<typeof nodeMachine>; nodeInput?: Partial<NodeInput> } = {}) {
  const calls: string[] = [];
  const failures: NodeFailure[] = [];
  const effects = {
    create: deferred<{ serverId: string }>(),
    ssh: deferred<void>(),
    prepare: deferred<void>(),
    deletes: [] as ReturnType<typeof deferred<void>>[],
    registers: [] as ReturnType<typeof deferred<{ manager?: string }>>[],
    unregisters: [] as ReturnType<typeof deferred<void>>[],
  };
  const reported: string[] = [];
  const machine = nodeMachine.provide({
    actors: {
      createServer: fromPromise(async ({ input: i }) => {
        calls.push(`createServer ${i.nodeId}`);
        return effects.create.promise;
      }),
      checkSsh: fromPromise(async ({ input: i }) => {
        calls.push(`checkSsh ${i.ip} until ${i.deadline}`);
        return effects.ssh.promise;
      }),
      prepareNode: fromPromise(async () => {
        calls.push('prepareNode');
        return effects.prepare.promise;
      }),
      deleteServer: fromPromise(async ({ input: i }) => {
        calls.push(`deleteServer ${i.serverId}`);
        const d = deferred<void>();
        effects.deletes.push(d);
        return d.promise;
      }),
      registerNode: fromPromise(async ({ input: i }) => {
        calls.push(`registerNode ${i.nodeId}`);
        const d = deferred<{ manager?: string }>();
        effects.registers.push(d);
        return d.promise;
      }),
      unregisterNode: fromPromise(async ({ input: i }) => {
        calls.push(`unregisterNode ${i.nodeId}${i.manager ? ` from ${i.manager}` : ''}`);
        const d = deferred<void>();
        effects.unregisters.push(d);
        return d.promise;
      }),
    },
    actions: {
      reportLaunchFailure: (_, params) => failures.push(params.failure),
      reportRegisterFailure: (_, params) => reported.push(`register failed (${params.attempts}): ${params.error}, again in ${params.retryInMs} ms`),
      reportUnregisterFailure: (_, params) => reported.push(`unregister failed (${params.attempts}): ${params.error}`),
    },
    guards: { deletesAllowed: () => options.deletesAllowed ?? true },
  });
  const actor = createActor(machine, { input: { ...input, ...options.nodeInput }, snapshot: options.snapshot });
  actor.start();
  const state = () => actor.getSnapshot().value;
  const row = () => nodeStateOf(actor.getSnapshot().value);
  return { actor, calls, failures, effects, state, row, machine, reported };
}

/** Drives a fresh node to ready: created, ACTIVE, SSH answers, prepared. */
async function toReady(h: ReturnType<typeof harness>) {
  h.effects.create.resolve({ serverId: 'srv-1' });
  await flush();
  h.actor.send({ type: 'server.listed', now: T0 + 5_000, server: active() });
  h.effects.ssh.resolve();
  await flush();
  h.effects.prepare.resolve();
  await flush();
}

/** Drives a node in deletion until its server is gone. */
async function finishDeletion(h: ReturnType<typeof harness>, now: number) {
  h.effects.deletes.at(-1)?.resolve();
  await flush();
  h.actor.send({ type: 'server.listed', now, server: null });
}

describe('a node', () => {
  it('whose server goes ACTIVE and answers SSH becomes ready, with its addresses', async () => {
    const h = harness();
    expect(h.state()).toEqual({ building: 'creating' });
    await toReady(h);
    expect(h.state()).toBe('ready');
    expect(h.actor.getSnapshot().context).toMatchObject({ serverId: 'srv-1', ip: '127.1.0.5', ipPrivate: '127.2.0.5' });
    expect(h.calls).toEqual(['createServer 7', `checkSsh 127.1.0.5 until ${T0 + 5_000 + 30_000}`, 'prepareNode']);
  });

  it('keeps waiting while its server is still building, and while the list does not show it yet', async () => {
    const h = harness();
    h.effects.create.resolve({ serverId: 'srv-1' });
    await flush();
    h.actor.send({ type: 'server.listed', now: T0 + 1_000, server: null });
    h.actor.send({ type: 'server.listed', now: T0 + 2_000, server: { id: 'srv-1', status: 'BUILD' } });
    expect(h.state()).toEqual({ building: 'waitingForServer' });
  });

  it('whose server goes to ERROR is deleted, with the fault as the reason', async () => {
    const h = harness();
    h.effects.create.resolve({ serverId: 'srv-1' });
    await flush();
    h.actor.send({ type: 'server.listed', now: T0 + 3_000, server: { id: 'srv-1', status: 'ERROR', fault: 'No valid host was found.' } });
    expect(h.failures).toEqual([{ reason: 'status', message: 'server went to ERROR: No valid host was found.' }]);
    expect(h.state()).toEqual({ deleting: 'deletingServer' });
    expect(h.row()).toBe('delete');
    expect(h.calls.at(-1)).toBe('deleteServer srv-1');
    await finishDeletion(h, T0 + 4_000);
    expect(h.state()).toBe('removed');
    expect(h.actor.getSnapshot().status).toBe('done');
  });

  it('not ACTIVE within the launch timeout fails with reason timeout', async () => {
    const h = harness();
    h.effects.create.resolve({ serverId: 'srv-1' });
    await flush();
    h.actor.send({ type: 'tick', now: T0 + 59_000 });
    expect(h.state()).toEqual({ building: 'waitingForServer' });
    h.actor.send({ type: 'tick', now: T0 + 60_001 });
    expect(h.failures.map((f) => f.reason)).toEqual(['timeout']);
    expect(h.failures[0]?.message).toBe('not ready within the launch timeout of 60 s');
    expect(h.state()).toEqual({ deleting: 'deletingServer' });
  });

  it('that is ACTIVE without a public address fails with reason network', async () => {
    const h = harness();
    h.effects.create.resolve({ serverId: 'srv-1' });
    await flush();
    h.actor.send({ type: 'server.listed', now: T0 + 1_000, server: { id: 'srv-1', status: 'ACTIVE', privateV4: '127.2.0.9' } });
    expect(h.failures.map((f) => f.reason)).toEqual(['network']);
  });

  it('uses the IPv6 address when ipv6-preferred and present', async () => {
    const h = harness({ nodeInput: { ipv6Preferred: true } });
    h.effects.create.resolve({ serverId: 'srv-1' });
    await flush();
    h.actor.send({ type: 'server.listed', now: T0 + 1_000, server: { ...active(), publicV6: '::1' } });
    expect(h.actor.getSnapshot().context.ip).toBe('::1');
  });

  it('that does not answer SSH is deleted with the check’s reason', async () => {
    const h = harness();
    h.effects.create.resolve({ serverId: 'srv-1' });
    await flush();
    h.actor.send({ type: 'server.listed', now: T0 + 1_000, server: active() });
    h.effects.ssh.reject({ reason: 'auth', message: 'permission denied (publickey)' });
    await flush();
    expect(h.failures).toEqual([{ reason: 'auth', message: 'permission denied (publickey)' }]);
    expect(h.row()).toBe('delete');
  });

  it('whose create call fails looks for a server with its metadata before it is removed', async () => {
    const h = harness();
    h.effects.create.reject(new Error('Quota exceeded for instances'));
    await flush();
    expect(h.failures).toEqual([{ reason: 'other', message: 'Quota exceeded for instances' }]);
    expect(h.state()).toEqual({ deleting: 'confirmingGone' });
    // The provider's list found a server carrying this node's metadata after all.
    h.actor.send({ type: 'server.listed', now: T0 + 2_000, server: { id: 'srv-late', status: 'BUILD' } });
    expect(h.calls.at(-1)).toBe('deleteServer srv-late');
    await finishDeletion(h, T0 + 3_000);
    expect(h.state()).toBe('removed');
  });

  it('whose create failed and that no list shows is removed without a delete call', async () => {
    const h = harness();
    h.effects.create.reject(new Error('boom'));
    await flush();
    h.actor.send({ type: 'server.listed', now: T0 + 2_000, server: null });
    expect(h.state()).toBe('removed');
    expect(h.calls.filter((c) => c.startsWith('deleteServer'))).toEqual([]);
  });

  it('is used by a job and deleted when the job finishes', async () => {
    const h = harness();
    await toReady(h);
    h.actor.send({ type: 'job.started', job: 'gate-nova' });
    expect(h.row()).toBe('used');
    h.actor.send({ type: 'job.finished', job: 'gate-nova', result: 'SUCCESS' });
    expect(h.row()).toBe('delete');
    expect(h.actor.getSnapshot().context.deleteReason).toBe('job gate-nova finished (SUCCESS)');
  });

  it('is held with a comment when its failed job asks for auto-hold', async () => {
    const h = harness();
    await toReady(h);
    h.actor.send({ type: 'job.started', job: 'gate-nova' });
    h.actor.send({ type: 'job.finished', job: 'gate-nova', result: 'FAILURE', autoHoldComment: 'Automatically held after failing gate-nova' });
    expect(h.state()).toBe('hold');
    expect(h.actor.getSnapshot().context.comment).toBe('Automatically held after failing gate-nova');
  });

  it('a job that finished on a ready node (its start missed) deletes it, or holds it for the job', async () => {
    const deleted = harness();
    await toReady(deleted);
    deleted.actor.send({ type: 'job.finished', job: 'gate-nova', result: 'SUCCESS' });
    expect(deleted.row()).toBe('delete');
    expect(deleted.actor.getSnapshot().context.job).toBe('gate-nova');
    const held = harness();
    await toReady(held);
    held.actor.send({ type: 'job.finished', job: 'gate-nova', result: 'FAILURE', autoHoldComment: 'Automatically held after failing gate-nova' });
    expect(held.state()).toBe('hold');
    expect(held.actor.getSnapshot().context).toMatchObject({ job: 'gate-nova', comment: 'Automatically held after failing gate-nova' });
  });

  it('of a target that registers nodes is ready only once the target took it, trying again after growing pauses', async () => {
    const h = harness({ nodeInput: { registers: true } });
    await toReady(h);
    expect(h.state()).toEqual({ building: 'registering' });
    h.effects.registers[0]?.reject(new Error('Jenkins http://127.0.0.1:1/: createNode: HTTP 500'));
    await flush();
    expect(h.state()).toEqual({ building: 'registerFailed' });
    expect(h.reported).toEqual(['register failed (1): Jenkins http://127.0.0.1:1/: createNode: HTTP 500, again in 2000 ms']);
    h.actor.send({ type: 'tick', now: T0 + 10_000 });
    h.actor.send({ type: 'tick', now: T0 + 11_999 });
    expect(h.effects.registers).toHaveLength(1);
    h.actor.send({ type: 'tick', now: T0 + 12_000 });
    expect(h.state()).toEqual({ building: 'registering' });
    h.effects.registers[1]?.reject(new Error('down'));
    await flush();
    expect(h.reported.at(-1)).toBe('register failed (2): down, again in 4000 ms');
    h.actor.send({ type: 'tick', now: T0 + 13_000 });
    h.actor.send({ type: 'tick', now: T0 + 17_000 });
    h.effects.registers[2]?.resolve({});
    await flush();
    expect(h.state()).toBe('ready');
    expect(h.calls.filter((c) => c.startsWith('registerNode'))).toHaveLength(3);
  });

  it('of a target that never takes it fails at the launch deadline, and its registration is removed before its server', async () => {
    const h = harness({ nodeInput: { registers: true } });
    await toReady(h);
    h.effects.registers[0]?.reject(new Error('down'));
    await flush();
    h.actor.send({ type: 'tick', now: T0 + 10_000 });
    h.actor.send({ type: 'tick', now: T0 + 61_000 });
    expect(h.failures).toEqual([{ reason: 'timeout', message: 'not ready within the launch timeout of 60 s' }]);
    expect(h.state()).toEqual({ deleting: 'unregistering' });
    expect(h.calls.filter((c) => c.startsWith('deleteServer'))).toEqual([]);
  });

  it('registered with its target, has the registration removed before its server is deleted, waiting out a target that fails', async () => {
    const h = harness({ nodeInput: { registers: true } });
    await toReady(h);
    h.effects.registers[0]?.resolve({ manager: 'zuul-launcher-2' });
    await flush();
    expect(h.actor.getSnapshot().context.manager).toBe('zuul-launcher-2');
    h.actor.send({ type: 'delete', reason: 'done with it' });
    expect(h.state()).toEqual({ deleting: 'unregistering' });
    h.effects.unregisters[0]?.reject(new Error('Jenkins down'));
    await flush();
    expect(h.state()).toEqual({ deleting: 'unregisterFailed' });
    expect(h.reported).toEqual(['unregister failed (1): Jenkins down']);
    h.actor.send({ type: 'tick', now: T0 + 100_000 });
    h.actor.send({ type: 'tick', now: T0 + 100_000 + DELETE_RETRY_MS });
    expect(h.calls.filter((c) => c.startsWith('deleteServer'))).toEqual([]);
    h.effects.unregisters[1]?.resolve();
    await flush();
    expect(h.state()).toEqual({ deleting: 'deletingServer' });
    expect(h.calls.slice(-3)).toEqual(['unregisterNode 7 from zuul-launcher-2', 'unregisterNode 7 from zuul-launcher-2', 'deleteServer srv-1']);
    await finishDeletion(h, T0 + 200_000);
    expect(h.state()).toBe('removed');
  });

  it('of a target that does not register nodes is never registered nor unregistered', async () => {
    const h = harness();
    await toReady(h);
    h.actor.send({ type: 'delete' });
    expect(h.calls.filter((c) => /register/.test(c))).toEqual([]);
  });

  it('in hold ignores job events and is deleted only on request', async () => {
    const h = harness();
    await toReady(h);
    h.actor.send({ type: 'hold', reason: 'debugging' });
    h.actor.send({ type: 'job.started', job: 'x' });
    h.actor.send({ type: 'job.finished', job: 'x', result: 'SUCCESS' });
    expect(h.state()).toBe('hold');
    expect(h.actor.getSnapshot().context.comment).toBe('debugging');
    h.actor.send({ type: 'delete' });
    expect(h.state()).toEqual({ deleting: 'deletingServer' });
    expect(h.actor.getSnapshot().context.deleteReason).toBe('deleted by request');
  });

  it('held while still building goes to hold instead of ready', async () => {
    const h = harness();
    h.actor.send({ type: 'hold', reason: 'keep it' });
    await toReady(h);
    expect(h.state()).toBe('hold');
    expect(h.actor.getSnapshot().context.comment).toBe('keep it');
  });

  it('of a target with a test job is tested before it is ready, and deleted when the test fails', async () => {
    const passing = harness({ nodeInput: { hasTestJob: true } });
    await toReady(passing);
    expect(passing.state()).toBe('test');
    passing.actor.send({ type: 'test.finished', success: true });
    expect(passing.state()).toBe('ready');

    const failing = harness({ nodeInput: { hasTestJob: true } });
    await toReady(failing);
    failing.actor.send({ type: 'test.finished', success: false });
    expect(failing.row()).toBe('delete');
  });

  it('with sub-nodes waits for them before it is prepared', async () => {
    const h = harness({ nodeInput: { subnodes: 2 } });
    h.effects.create.resolve({ serverId: 'srv-1' });
    await flush();
    h.actor.send({ type: 'server.listed', now: T0 + 1_000, server: active() });
    h.effects.ssh.resolve();
    await flush();
    expect(h.state()).toEqual({ building: 'waitingForSubnodes' });
    expect(h.calls).not.toContain('prepareNode');
    h.actor.send({ type: 'subnodes.ready' });
    h.effects.prepare.resolve();
    await flush();
    expect(h.state()).toBe('ready');
  });

  it('with sub-nodes waits for them to be gone before deleting its own server', async () => {
    const h = harness({ nodeInput: { subnodes: 1 } });
    h.effects.create.resolve({ serverId: 'srv-1' });
    await flush();
    h.actor.send({ type: 'delete' });
    expect(h.state()).toEqual({ deleting: 'deletingSubnodes' });
    expect(h.calls.filter((c) => c.startsWith('deleteServer'))).toEqual([]);
    h.actor.send({ type: 'subnodes.gone' });
    expect(h.calls.at(-1)).toBe('deleteServer srv-1');
  });

  it('that is a sub-node is ready after the SSH check, without preparing', async () => {
    const h = harness({ nodeInput: { role: 'sub' } });
    h.effects.create.resolve({ serverId: 'srv-9' });
    await flush();
    h.actor.send({ type: 'server.listed', now: T0 + 1_000, server: active('srv-9') });
    h.effects.ssh.resolve();
    await flush();
    expect(h.state()).toBe('ready');
    expect(h.calls).not.toContain('prepareNode');
  });

  it('whose delete call fails tries again after a pause, not before', async () => {
    const h = harness();
    await toReady(h);
    h.actor.send({ type: 'delete' });
    h.effects.deletes[0]?.reject(new Error('503 Service Unavailable'));
    await flush();
    expect(h.state()).toEqual({ deleting: 'deleteFailed' });
    h.actor.send({ type: 'tick', now: T0 + 100_000 });
    h.actor.send({ type: 'tick', now: T0 + 100_000 + DELETE_RETRY_MS - 1 });
    expect(h.state()).toEqual({ deleting: 'deleteFailed' });
    h.actor.send({ type: 'tick', now: T0 + 100_000 + DELETE_RETRY_MS });
    expect(h.calls.filter((c) => c.startsWith('deleteServer'))).toHaveLength(2);
    await finishDeletion(h, T0 + 200_000);
    expect(h.state()).toBe('removed');
  });

  it('whose server does not disappear after a delete is deleted again', async () => {
    const h = harness();
    await toReady(h);
    h.actor.send({ type: 'delete' });
    h.effects.deletes[0]?.resolve();
    await flush();
    h.actor.send({ type: 'server.listed', now: T0 + 10_000, server: active() });
    h.actor.send({ type: 'server.listed', now: T0 + 10_000 + GONE_TIMEOUT_MS, server: active() });
    expect(h.state()).toEqual({ deleting: 'waitingUntilGone' });
    h.actor.send({ type: 'server.listed', now: T0 + 10_001 + GONE_TIMEOUT_MS, server: active() });
    expect(h.calls.filter((c) => c.startsWith('deleteServer'))).toHaveLength(2);
  });

  it('asked to delete again while deleting does not start over', async () => {
    const h = harness();
    await toReady(h);
    h.actor.send({ type: 'delete' });
    h.actor.send({ type: 'delete', reason: 'again' });
    expect(h.calls.filter((c) => c.startsWith('deleteServer'))).toHaveLength(1);
    expect(h.actor.getSnapshot().context.deleteReason).toBe('deleted by request');
  });

  it('waits in delete while deletes are turned off (--no-deletes)', async () => {
    const h = harness({ deletesAllowed: false });
    await toReady(h);
    h.actor.send({ type: 'delete' });
    h.actor.send({ type: 'tick', now: T0 + 1_000_000 });
    expect(h.state()).toEqual({ deleting: 'waitingForPermission' });
    expect(h.calls.filter((c) => c.startsWith('deleteServer'))).toEqual([]);
  });
});

describe('a node whose server disappears', () => {
  it('while ready is removed without a delete call, with the reason recorded', async () => {
    const h = harness();
    await toReady(h);
    h.actor.send({ type: 'server.listed', now: T0 + 20_000, server: active() });
    expect(h.state()).toBe('ready');
    h.actor.send({ type: 'server.listed', now: T0 + 30_000, server: null });
    expect(h.actor.getSnapshot().context.deleteReason).toBe('server disappeared from the provider');
    h.actor.send({ type: 'server.listed', now: T0 + 31_000, server: null });
    expect(h.state()).toBe('removed');
    expect(h.calls.filter((c) => c.startsWith('deleteServer'))).toEqual([]);
  });

  it('while held is removed too: there is nothing left to keep', async () => {
    const h = harness();
    await toReady(h);
    h.actor.send({ type: 'hold' });
    h.actor.send({ type: 'server.listed', now: T0 + 30_000, server: null });
    expect(h.row()).toBe('delete');
  });
});

describe('a node restored from its snapshot', () => {
  it('that was waiting for ACTIVE keeps waiting for the same server and does not create another', async () => {
    const first = harness();
    first.effects.create.resolve({ serverId: 'srv-1' });
    await flush();
    const saved = JSON.parse(JSON.stringify(first.actor.getPersistedSnapshot())) as SnapshotFrom<typeof nodeMachine>;
    first.actor.stop();

    const restored = harness({ snapshot: saved });
    expect(restored.state()).toEqual({ building: 'waitingForServer' });
    restored.actor.send({ type: 'server.listed', now: T0 + 5_000, server: active() });
    restored.effects.ssh.resolve();
    await flush();
    restored.effects.prepare.resolve();
    await flush();
    expect(restored.state()).toBe('ready');
    expect(restored.calls.filter((c) => c.startsWith('createServer'))).toEqual([]);
  });

  it('that was deleting asks the cloud again (deletes are safe to repeat) and finishes', async () => {
    const first = harness();
    await toReady(first);
    first.actor.send({ type: 'delete' });
    const saved = JSON.parse(JSON.stringify(first.actor.getPersistedSnapshot())) as SnapshotFrom<typeof nodeMachine>;
    first.actor.stop();

    const restored = harness({ snapshot: saved });
    await flush();
    expect(restored.calls).toEqual(['deleteServer srv-1']);
    await finishDeletion(restored, T0 + 9_000);
    expect(restored.state()).toBe('removed');
  });

  it('that was created before a restart without a snapshot resumes from the server id in its row', async () => {
    const h = harness({ nodeInput: { serverId: 'srv-from-row' } });
    expect(h.state()).toEqual({ building: 'waitingForServer' });
    expect(h.calls).toEqual([]);
  });
});

describe('the node row state', () => {
  it('follows the machine state', () => {
    expect(nodeStateOf({ building: 'creating' })).toBe('building');
    expect(nodeStateOf('ready')).toBe('ready');
    expect(nodeStateOf('used')).toBe('used');
    expect(nodeStateOf('hold')).toBe('hold');
    expect(nodeStateOf('test')).toBe('test');
    expect(nodeStateOf({ deleting: 'waitingUntilGone' })).toBe('delete');
    expect(nodeStateOf('removed')).toBe('delete');
  });
});
