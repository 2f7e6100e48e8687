import { createActor, fromPromise } from 'xstate';
import { nodeMachine, type NodeInput } from '../../machines/node.machine.js';
import { flush } from './deferred.js';

/** A node actor's input as the launcher makes it, with short test timeouts. */
export function nodeInput(nodeId: number, overrides: Partial<NodeInput> = {}): NodeInput {
  return {
    nodeId,
    role: 'primary',
    requestedAt: 0,
    launchTimeoutMs: 60_000,
    bootTimeoutMs: 30_000,
    subnodes: 0,
    hasTestJob: false,
    ipv6Preferred: false,
    ...overrides,
  };
}

/**
 * The snapshot a nodepoold saves of a ready node whose server is `serverId`:
 * the node machine driven there with effects that succeed at once.
 */
export async function readyNodeSnapshot(nodeId: number, serverId: string, overrides: Partial<NodeInput> = {}): Promise<unknown> {
  const machine = nodeMachine.provide({ actors: { checkSsh: fromPromise(async () => {}), prepareNode: fromPromise(async () => {}) } });
  const actor = createActor(machine, { input: nodeInput(nodeId, { serverId, ...overrides }) });
  actor.start();
  actor.send({ type: 'server.listed', now: 1, server: { id: serverId, status: 'ACTIVE', publicV4: '127.10.0.9' } });
  for (let turns = 0; actor.getSnapshot().value !== 'ready'; turns++) {
    if (turns > 50) throw new Error(`the node did not reach ready: ${JSON.stringify(actor.getSnapshot().value)}`);
    if (actor.getSnapshot().matches({ building: 'waitingForSubnodes' })) actor.send({ type: 'subnodes.ready' });
    await flush();
  }
  const snapshot = actor.getPersistedSnapshot();
  actor.stop();
  return snapshot;
}
