import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, type AnyActorRef } from 'xstate';
import { nodeMachine } from '../../machines/node.machine.js';
import { providerActorId } from '../../machines/actor-ids.js';
import { poolMachine, type Launch } from '../../machines/pool.machine.js';
import { nodeGroupMachine } from '../../machines/node-group.machine.js';
import { nodeActorOf, providerMachine, supervisedNodeIds } from '../../machines/provider.machine.js';
import type { ProviderServer } from '../../machines/server-list.js';
import { flush } from '../support/deferred.js';
import { nodeInput } from '../support/node-input.js';


/** A pool whose allocation hands out the launches the test queues; clouds list nothing. */
function harness(providers = ['a', 'b']) {
  const queued: Launch[][] = [];
  let allocations = 0;
  const provider = providerMachine.provide({
    actors: {
      listServers: fromPromise(async () => ({ servers: [] as ProviderServer[], now: 0 })),
      nodeGroup: nodeGroupMachine.provide({
        actors: {
          node: nodeMachine.provide({
            actors: {
              createServer: fromPromise(async ({ input }) => ({ serverId: `srv-${input.nodeId}` })),
              checkSsh: fromPromise(async () => {}),
              prepareNode: fromPromise(async () => {}),
              deleteServer: fromPromise(async () => {}),
            },
          }),
        },
      }),
    },
  });
  const machine = poolMachine.provide({
    actors: {
      provider,
      allocate: fromPromise(async () => {
        allocations += 1;
        return queued.shift() ?? [];
      }),
    },
  });
  const actor = createActor(machine, {
    input: { providers: providers.map((name) => ({ name, listIntervalMs: 1_000 })), allocateIntervalMs: 5_000 },
  });
  actor.start();
  const providerActor = (name: string) => actor.getSnapshot().children[providerActorId(name)] as AnyActorRef | undefined;
  return {
    actor,
    queued,
    providerActor,
    nodesOf: (name: string) => supervisedNodeIds(providerActor(name)?.getSnapshot().children ?? {}),
    get allocations() {
      return allocations;
    },
    async tick(now: number) {
      actor.send({ type: 'tick', now });
      await flush();
      await flush();
    },
  };
}

describe('the pool', () => {
  it('starts one provider actor per configured provider', () => {
    const h = harness();
    expect(Object.keys(h.actor.getSnapshot().children).sort()).toEqual(['provider-a', 'provider-b']);
  });

  it('allocates at the first tick and hands each launch to its provider', async () => {
    const h = harness();
    h.queued.push([
      { provider: 'a', nodeId: 1, input: nodeInput(1) },
      { provider: 'b', nodeId: 2, input: nodeInput(2) },
      { provider: 'gone', nodeId: 3, input: nodeInput(3) },
    ]);
    await h.tick(1_000);
    expect(h.allocations).toBe(1);
    expect(h.nodesOf('a')).toEqual([1]);
    expect(h.nodesOf('b')).toEqual([2]);
  });

  it('allocates again after the interval, or at once when something relevant changed', async () => {
    const h = harness();
    await h.tick(1_000);
    await h.tick(2_000);
    expect(h.allocations).toBe(1);
    h.actor.send({ type: 'allocation.wanted' });
    await h.tick(3_000);
    expect(h.allocations).toBe(2);
    await h.tick(7_999);
    expect(h.allocations).toBe(2);
    await h.tick(8_000);
    expect(h.allocations).toBe(3);
  });

  it('starts a provider added to the configuration and drains one that was removed', async () => {
    const h = harness();
    h.queued.push([{ provider: 'b', nodeId: 9, input: nodeInput(9) }]);
    await h.tick(1_000);
    h.actor.send({ type: 'providers.changed', providers: [{ name: 'a', listIntervalMs: 1_000 }, { name: 'c', listIntervalMs: 1_000 }] });
    expect(h.providerActor('c')).toBeDefined();
    expect(h.providerActor('b')?.getSnapshot().context.draining).toBe(true);
    // The drained provider stays while its node lives ...
    await h.tick(2_000);
    expect(h.nodesOf('b')).toEqual([9]);
    // ... and goes once the node is deleted and gone.
    h.actor.send({ type: 'node.command', provider: 'b', nodeId: 9, event: { type: 'delete' } });
    await h.tick(3_000);
    await h.tick(4_000);
    await h.tick(5_000);
    expect(h.providerActor('b')).toBeUndefined();
  });

  it('routes a command to the provider and node it names', async () => {
    const h = harness();
    h.queued.push([{ provider: 'a', nodeId: 1, input: nodeInput(1) }]);
    await h.tick(1_000);
    h.actor.send({ type: 'node.command', provider: 'a', nodeId: 1, event: { type: 'hold', reason: 'r' } });
    const node = nodeActorOf(h.providerActor('a')?.getSnapshot().children ?? {}, 'node-1') as AnyActorRef;
    expect(node.getSnapshot().context.holdRequested).toBe(true);
  });

  it('stops allocating once it is stopping', async () => {
    const h = harness();
    h.actor.send({ type: 'stop' });
    await h.tick(1_000);
    expect(h.allocations).toBe(0);
  });
});
