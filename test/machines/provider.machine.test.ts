import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, type AnyActorRef, type InspectionEvent } from 'xstate';
import { nodeMachine, type NodeInput } from '../../machines/node.machine.js';
import { nodeActorId, nodeGroupActorId } from '../../machines/actor-ids.js';
import { NODE_GROUP_SIZE, QUIET_UNTIL_WOKEN, groupKeyOf, nodeGroupMachine, type NodeGroupContext } from '../../machines/node-group.machine.js';
import { hasNodeActors, listDueAt, nodeActorOf, providerMachine, supervisedNodeIds } from '../../machines/provider.machine.js';
import { serverForNode, type ProviderServer } from '../../machines/server-list.js';
import { flush } from '../support/deferred.js';
import { nodeInput } from '../support/node-input.js';


const subnodeInput = (subnodeId: number, parentId: number): NodeInput => ({ ...nodeInput(subnodeId), role: 'sub', parentId });

/** A provider whose cloud is a list the test edits; node effects succeed at once. */
function harness(options: { inspect?: boolean } = {}) {
  const received: { to: string; type: string }[] = [];
  let servers: ProviderServer[] = [];
  let listCalls = 0;
  let failNextList = false;
  const created: number[] = [];
  const deleted: string[] = [];
  const listFailures: number[] = [];
  const machine = providerMachine.provide({
    actors: {
      listServers: fromPromise(async () => {
        listCalls += 1;
        if (failNextList) {
          failNextList = false;
          throw new Error('503');
        }
        return { servers: structuredClone(servers), now: clockNow };
      }),
      nodeGroup: nodeGroupMachine.provide({
        actors: {
          node: nodeMachine.provide({
            actors: {
              createServer: fromPromise(async ({ input }) => {
                created.push(input.nodeId);
                return { serverId: `${input.role === 'sub' ? 'sub' : 'srv'}-${input.nodeId}` };
              }),
              checkSsh: fromPromise(async () => {}),
              prepareNode: fromPromise(async () => {}),
              deleteServer: fromPromise(async ({ input }) => {
                deleted.push(input.serverId);
                servers = servers.filter((s) => s.id !== input.serverId);
              }),
            },
          }),
        },
      }),
    },
    actions: { reportListFailure: (_, params) => listFailures.push(params.failures) },
  });
  let clockNow = 0;
  const actor = createActor(machine, {
    input: { provider: 'fake-a', listIntervalMs: 1_000, idleListIntervalMs: 10_000 },
    ...(options.inspect && {
      inspect: (e: InspectionEvent) => {
        if (e.type === '@xstate.event') received.push({ to: (e.actorRef as AnyActorRef).id, type: e.event.type });
      },
    }),
  });
  actor.start();
  const node = (id: number) => nodeActorOf(actor.getSnapshot().children, nodeActorId(id));
  return {
    actor,
    received,
    node,
    created,
    deleted,
    listFailures,
    get listCalls() {
      return listCalls;
    },
    setServers(next: ProviderServer[]) {
      servers = next;
    },
    failNextList() {
      failNextList = true;
    },
    async tick(now: number) {
      clockNow = now;
      actor.send({ type: 'tick', now });
      await flush();
    },
  };
}

describe('a provider', () => {
  it('spawns a node actor per launch and supervises it', async () => {
    const h = harness();
    h.actor.send({ type: 'launch', nodeId: 1, input: nodeInput(1) });
    h.actor.send({ type: 'launch', nodeId: 2, input: nodeInput(2) });
    h.actor.send({ type: 'launch', nodeId: 2, input: nodeInput(2) });
    await flush();
    expect(supervisedNodeIds(h.actor.getSnapshot().children)).toEqual([1, 2]);
    expect(h.created).toEqual([1, 2]);
  });

  it('lists its servers in one call for all its nodes: at once the first time, often while some wait, seldom once all are settled', async () => {
    const h = harness();
    for (const id of [1, 2, 3]) h.actor.send({ type: 'launch', nodeId: id, input: nodeInput(id) });
    await flush();
    h.setServers([1, 2, 3].map((id) => ({ id: `srv-${id}`, status: 'ACTIVE', publicV4: `127.1.0.${id}`, nodeId: id })));
    await h.tick(1_000);
    expect(h.listCalls).toBe(1);
    await flush();
    for (const id of [1, 2, 3]) expect(h.node(id)?.getSnapshot().value).toBe('ready');
    // The groups count their waiting nodes once a second: until they have, the spell goes on.
    await h.tick(1_250);
    expect(h.listCalls).toBe(2);
    await h.tick(2_000);
    await h.tick(3_000);
    const settled = h.listCalls;
    // Every node is ready: nobody waits for a status, so the idle interval applies.
    await h.tick(4_000);
    await h.tick(11_000);
    expect(h.listCalls).toBe(settled);
    await h.tick(14_000);
    expect(h.listCalls).toBe(settled + 1);
    // A node that starts deleting waits for its server to go: a busy spell, whose first list comes a quarter interval in.
    h.actor.send({ type: 'node.command', nodeId: 1, event: { type: 'delete' } });
    await flush();
    await h.tick(14_100);
    expect(h.listCalls).toBe(settled + 1);
    await h.tick(14_350);
    expect(h.listCalls).toBe(settled + 2);
  });

  it('spaces the lists of a busy spell a quarter, a half, then a whole interval apart', () => {
    const base = { listIntervalMs: 1_000, idleListIntervalMs: 30_000 };
    expect(listDueAt({ ...base })).toBe(-Infinity);
    expect(listDueAt({ ...base, listStartedAt: 5_000 })).toBe(35_000);
    // The last list was taken before anything waited: it told the waiting nodes nothing.
    expect(listDueAt({ ...base, listStartedAt: 5_000, busySince: 8_000 })).toBe(8_250);
    expect(listDueAt({ ...base, listStartedAt: 8_250, busySince: 8_000 })).toBe(8_500);
    expect(listDueAt({ ...base, listStartedAt: 8_500, busySince: 8_000 })).toBe(9_000);
    expect(listDueAt({ ...base, listStartedAt: 9_000, busySince: 8_000 })).toBe(10_000);
    expect(listDueAt({ ...base, listStartedAt: 20_000, busySince: 8_000 })).toBe(21_000);
  });

  it('lists soon after new launches in a busy spell, and at least every interval while launches keep coming', () => {
    const base = { listIntervalMs: 1_000, idleListIntervalMs: 30_000, busySince: 8_000 };
    // The spell is old, but nodes were launched at 20,100: their servers are looked for a quarter, a half, then a whole interval on.
    expect(listDueAt({ ...base, listStartedAt: 20_000, latestWaitAt: 20_100 })).toBe(20_350);
    expect(listDueAt({ ...base, listStartedAt: 20_350, latestWaitAt: 20_100 })).toBe(20_600);
    expect(listDueAt({ ...base, listStartedAt: 20_600, latestWaitAt: 20_100 })).toBe(21_100);
    expect(listDueAt({ ...base, listStartedAt: 21_100, latestWaitAt: 20_100 })).toBe(22_100);
    // Launches every tick would put the quarter off for ever: the interval since the last list bounds it.
    expect(listDueAt({ ...base, listStartedAt: 20_000, latestWaitAt: 20_900 })).toBe(21_000);
  });

  it('passes the time only to the nodes something is due for: a ready node hears no tick', async () => {
    const h = harness({ inspect: true });
    for (const id of [1, 2]) h.actor.send({ type: 'launch', nodeId: id, input: nodeInput(id, { requestedAt: 0, launchTimeoutMs: 60_000 }) });
    await flush();
    h.setServers([{ id: 'srv-1', status: 'ACTIVE', publicV4: '127.1.0.1', nodeId: 1 }, { id: 'srv-2', status: 'BUILD', nodeId: 2 }]);
    await h.tick(1_000);
    await flush();
    expect(h.node(1)?.getSnapshot().value).toBe('ready');
    const ticksTo = (id: string) => h.received.filter((e) => e.to === id && e.type === 'tick').length;
    await h.tick(30_000);
    // Nothing is due for either: the ready node waits for events, the building one's deadline is ahead.
    expect([ticksTo('node-1'), ticksTo('node-2')]).toEqual([0, 0]);
    await h.tick(61_000);
    expect([ticksTo('node-1'), ticksTo('node-2')]).toEqual([0, 1]);
    await flush();
    // That one tick was its launch timeout: it failed and its server was deleted.
    expect(h.deleted).toEqual(['srv-2']);
  });

  it('tells a settled node of a list only when its server is gone', async () => {
    const h = harness();
    h.actor.send({ type: 'launch', nodeId: 1, input: nodeInput(1) });
    await flush();
    const active = { id: 'srv-1', status: 'ACTIVE', publicV4: '127.1.0.1', nodeId: 1 };
    h.setServers([active]);
    await h.tick(1_000);
    await flush();
    expect(h.node(1)?.getSnapshot().value).toBe('ready');
    const before = h.node(1)?.getSnapshot();
    await h.tick(40_000);
    expect(h.listCalls).toBe(2);
    expect(h.node(1)?.getSnapshot()).toBe(before);
    h.setServers([]);
    await h.tick(80_000);
    await flush();
    expect(h.node(1)?.getSnapshot().value).toMatchObject({ deleting: expect.anything() });
  });

  it('hands each node only its own server', () => {
    const servers: ProviderServer[] = [
      { id: 'a', status: 'ACTIVE', nodeId: 1 },
      { id: 'b', status: 'BUILD', nodeId: 2 },
    ];
    expect(serverForNode(servers, 1, 'a')?.id).toBe('a');
    expect(serverForNode(servers, 2, undefined)?.id).toBe('b');
    expect(serverForNode(servers, 1, 'gone')).toBeNull();
    expect(serverForNode(servers, 3, undefined)).toBeNull();
  });

  it('routes commands to the node they name', async () => {
    const h = harness();
    h.actor.send({ type: 'launch', nodeId: 4, input: nodeInput(4) });
    await flush();
    h.setServers([{ id: 'srv-4', status: 'ACTIVE', publicV4: '127.1.0.4', nodeId: 4 }]);
    await h.tick(1_000);
    await flush();
    h.actor.send({ type: 'node.command', nodeId: 4, event: { type: 'hold', reason: 'look at it' } });
    expect(h.node(4)?.getSnapshot().value).toBe('hold');
    h.actor.send({ type: 'node.command', nodeId: 99, event: { type: 'delete' } });
    expect(supervisedNodeIds(h.actor.getSnapshot().children)).toEqual([4]);
  });

  it('stops supervising a node once it is removed', async () => {
    const h = harness();
    h.actor.send({ type: 'launch', nodeId: 5, input: nodeInput(5) });
    await flush();
    h.setServers([{ id: 'srv-5', status: 'ACTIVE', publicV4: '127.1.0.5', nodeId: 5 }]);
    await h.tick(1_000);
    await flush();
    h.actor.send({ type: 'node.command', nodeId: 5, event: { type: 'delete' } });
    await flush();
    expect(h.deleted).toEqual(['srv-5']);
    await h.tick(2_000);
    await flush();
    expect(supervisedNodeIds(h.actor.getSnapshot().children)).toEqual([]);
  });

  it('keeps going when a list call fails, and tries again an interval later', async () => {
    const h = harness();
    h.failNextList();
    await h.tick(1_000);
    await flush();
    expect(h.listFailures).toEqual([1]);
    expect(h.actor.getSnapshot().context.listFailures).toBe(1);
    await h.tick(1_500);
    expect(h.listCalls).toBe(1);
    await h.tick(11_000);
    await flush();
    expect(h.listCalls).toBe(2);
    expect(h.actor.getSnapshot().context.listFailures).toBe(0);
  });

  it('that is draining launches nothing more but keeps its nodes', async () => {
    const h = harness();
    h.actor.send({ type: 'launch', nodeId: 1, input: nodeInput(1) });
    h.actor.send({ type: 'drain' });
    h.actor.send({ type: 'launch', nodeId: 2, input: nodeInput(2) });
    await flush();
    expect(supervisedNodeIds(h.actor.getSnapshot().children)).toEqual([1]);
  });

  it('leaves a group whose nodes are all still alone until an event reaches one of them', async () => {
    const h = harness();
    for (const id of [1, 2]) h.actor.send({ type: 'launch', nodeId: id, input: nodeInput(id) });
    await flush();
    h.setServers([1, 2].map((id) => ({ id: `srv-${id}`, status: 'ACTIVE', publicV4: `127.1.0.${id}`, nodeId: id })));
    await h.tick(1_000);
    await flush();
    const groupId = nodeGroupActorId(groupKeyOf({ nodeId: 1, role: 'primary' }));
    const quietUntil = () => ((h.actor.getSnapshot().children[groupId] as AnyActorRef).getSnapshot().context as NodeGroupContext).quietUntil;
    await h.tick(2_000);
    // Both nodes are ready and want no time: only an event can change them.
    expect(quietUntil()).toBe(QUIET_UNTIL_WOKEN);
    h.actor.send({ type: 'node.command', nodeId: 1, event: { type: 'hold', reason: 'debugging' } });
    await flush();
    expect(quietUntil()).toBeUndefined();
    expect(h.node(1)?.getSnapshot().value).toBe('hold');
    await h.tick(3_000);
    expect(quietUntil()).toBe(QUIET_UNTIL_WOKEN);
  });

  it('passes ticks on so its nodes notice their deadlines', async () => {
    const h = harness();
    h.actor.send({ type: 'launch', nodeId: 1, input: nodeInput(1) });
    h.setServers([{ id: 'srv-1', status: 'BUILD', nodeId: 1 }]);
    await h.tick(1_000);
    // No list is due again for an hour: only the forwarded tick can tell the node its time is up.
    h.actor.send({ type: 'configure', listIntervalMs: 3_600_000 });
    await h.tick(60_000);
    expect(h.deleted).toEqual([]);
    // The group is still until the node's deadline: the tick then is the one it acts on.
    const group = h.actor.getSnapshot().children[nodeGroupActorId(groupKeyOf({ nodeId: 1, role: 'primary' }))] as AnyActorRef;
    expect((group.getSnapshot().context as NodeGroupContext).quietUntil).toBe(60_001);
    await h.tick(61_001);
    expect(h.listCalls).toBe(1);
    expect(h.deleted).toEqual(['srv-1']);
  });

  it('supervises sub-nodes: a primary is prepared once all its sub-nodes are ready', async () => {
    const h = harness();
    h.actor.send({ type: 'launch', nodeId: 1, input: { ...nodeInput(1), subnodes: 2 } });
    h.actor.send({ type: 'launch', nodeId: 10, input: subnodeInput(10, 1) });
    h.actor.send({ type: 'launch', nodeId: 11, input: subnodeInput(11, 1) });
    await flush();
    // A node and its sub-nodes share a group, which supervises them.
    expect(Object.keys(h.actor.getSnapshot().children)).toEqual(['group-0']);
    expect(['node-1', 'subnode-10', 'subnode-11'].map((id) => nodeActorOf(h.actor.getSnapshot().children, id) !== undefined)).toEqual([true, true, true]);
    h.setServers([
      { id: 'srv-1', status: 'ACTIVE', publicV4: '127.1.0.1', nodeId: 1 },
      { id: 'sub-10', status: 'ACTIVE', publicV4: '127.1.0.10', nodeId: 1, subnodeId: 10 },
      { id: 'sub-11', status: 'BUILD', nodeId: 1, subnodeId: 11 },
    ]);
    await h.tick(1_000);
    await flush();
    expect(h.node(1)?.getSnapshot().value).toEqual({ building: 'waitingForSubnodes' });
    h.setServers([
      { id: 'srv-1', status: 'ACTIVE', publicV4: '127.1.0.1', nodeId: 1 },
      { id: 'sub-10', status: 'ACTIVE', publicV4: '127.1.0.10', nodeId: 1, subnodeId: 10 },
      { id: 'sub-11', status: 'ACTIVE', publicV4: '127.1.0.11', nodeId: 1, subnodeId: 11 },
    ]);
    await h.tick(2_000); // the list: every sub-node is ready
    await flush();
    await h.tick(3_000); // the group's supervision, once a second, tells the primary
    await flush();
    expect(h.node(1)?.getSnapshot().value).toBe('ready');
  });

  it('deletes a primary’s sub-nodes before its own server', async () => {
    const h = harness();
    h.actor.send({ type: 'launch', nodeId: 1, input: { ...nodeInput(1), subnodes: 1 } });
    h.actor.send({ type: 'launch', nodeId: 10, input: subnodeInput(10, 1) });
    await flush();
    h.setServers([
      { id: 'srv-1', status: 'ACTIVE', publicV4: '127.1.0.1', nodeId: 1 },
      { id: 'sub-10', status: 'ACTIVE', publicV4: '127.1.0.10', nodeId: 1, subnodeId: 10 },
    ]);
    await h.tick(1_000);
    await flush();
    await h.tick(2_000);
    await flush();
    expect(h.node(1)?.getSnapshot().value).toBe('ready');
    h.actor.send({ type: 'node.command', nodeId: 1, event: { type: 'delete' } });
    expect(h.node(1)?.getSnapshot().value).toEqual({ deleting: 'deletingSubnodes' });
    await h.tick(3_000);
    await flush();
    expect(h.deleted).toEqual(['sub-10']);
    await h.tick(4_000); // the list shows the sub-node gone: it is removed
    await flush();
    await h.tick(5_000); // no sub-node left: the primary deletes its server
    await flush();
    expect(h.deleted).toEqual(['sub-10', 'srv-1']);
    await h.tick(6_000);
    await flush();
    expect(hasNodeActors(h.actor.getSnapshot().children)).toBe(false);
  });

  it('keeps its nodes in groups, a sub-node with its primary, and stops a group once it is empty', async () => {
    const h = harness();
    const far = NODE_GROUP_SIZE + 1;
    h.actor.send({ type: 'launch', nodeId: 1, input: { ...nodeInput(1), subnodes: 1 } });
    // A sub-node whose own id falls in another group still joins its primary's.
    h.actor.send({ type: 'launch', nodeId: 3 * NODE_GROUP_SIZE, input: subnodeInput(3 * NODE_GROUP_SIZE, 1) });
    h.actor.send({ type: 'launch.many', launches: [{ nodeId: far, input: nodeInput(far) }] });
    await flush();
    expect(Object.keys(h.actor.getSnapshot().children).filter((id) => id.startsWith('group-')).sort()).toEqual(['group-0', 'group-1']);
    expect(supervisedNodeIds(h.actor.getSnapshot().children)).toEqual([1, far]);
    h.setServers([{ id: `srv-${far}`, status: 'ACTIVE', publicV4: '127.1.0.2', nodeId: far }]);
    await h.tick(1_000);
    await flush();
    h.actor.send({ type: 'node.command', nodeId: far, event: { type: 'delete' } });
    await flush();
    expect(h.deleted).toEqual([`srv-${far}`]);
    await h.tick(2_000); // the list shows its server gone: the node is removed, and the provider hears of it at once
    await flush();
    expect(supervisedNodeIds(h.actor.getSnapshot().children)).toEqual([1]);
    expect(Object.keys(h.actor.getSnapshot().children).filter((id) => id.startsWith('group-')).sort()).toEqual(['group-0', 'group-1']);
    await h.tick(3_000); // the next tick stops the empty group
    expect(Object.keys(h.actor.getSnapshot().children).filter((id) => id.startsWith('group-'))).toEqual(['group-0']);
  });

  it('deletes a sub-node whose primary is gone', async () => {
    const h = harness();
    h.actor.send({ type: 'launch', nodeId: 10, input: subnodeInput(10, 99) });
    await flush();
    await h.tick(1_000);
    await flush();
    const orphan = nodeActorOf(h.actor.getSnapshot().children, 'subnode-10');
    expect(JSON.stringify(orphan?.getSnapshot().value ?? 'removed')).toMatch(/deleting|removed/);
  });
});
