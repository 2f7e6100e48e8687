import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { nodeMachine } from '../../machines/node.machine.js';
import { nodeGroupMachine } from '../../machines/node-group.machine.js';
import { providerMachine } from '../../machines/provider.machine.js';
import type { ProviderServer } from '../../machines/server-list.js';
import { dumpActors, stateName } from '../../src/actors/actor-dump.js';
import { SignalProfiler } from '../../src/cli/profiler.js';
import { existsSync, readFileSync } from 'node:fs';
import { tempDir } from '../support/config-files.js';
import { nodeInput } from '../support/node-input.js';

describe('the SIGUSR2 dump', () => {
  it('lists every live actor with its state, children under their parent', () => {
    const provider = providerMachine.provide({
      actors: {
        listServers: fromPromise(async () => ({ servers: [] as ProviderServer[], now: 0 })),
        nodeGroup: nodeGroupMachine.provide({
          actors: { node: nodeMachine.provide({ actors: { createServer: fromPromise(() => new Promise<{ serverId: string }>(() => {})) } }) },
        }),
      },
    });
    const actor = createActor(provider, { input: { provider: 'p', listIntervalMs: 1000 } });
    actor.start();
    actor.send({ type: 'launch', nodeId: 3, input: nodeInput(3) });
    const lines = dumpActors(actor);
    expect(lines.map((l) => [l.depth, l.id, l.state])).toEqual([
      [0, actor.id, 'nodes, listing.idle'],
      [1, 'group-0', ''],
      [2, 'node-3', 'building.creating'],
      [3, expect.any(String), ''],
    ]);
    actor.stop();
  });

  it('names nested states as dotted paths', () => {
    expect(stateName({ deleting: 'waitingUntilGone' })).toBe('deleting.waitingUntilGone');
    expect(stateName('ready')).toBe('ready');
  });
});

describe('the SIGUSR2 profiler', () => {
  it('starts on the first toggle and writes a CPU profile on the second, with what ran between', async () => {
    const profiler = new SignalProfiler(tempDir());
    expect(await profiler.toggle()).toBeUndefined();
    expect(profiler.running).toBe(true);
    busyForAWhile(200);
    const file = await profiler.toggle();
    expect(file && existsSync(file)).toBe(true);
    const profile = JSON.parse(readFileSync(file as string, 'utf8')) as {
      nodes: { callFrame: { functionName: string } }[];
      samples: number[];
      startTime: number;
      endTime: number;
    };
    expect(profile.endTime).toBeGreaterThan(profile.startTime);
    expect(profile.samples.length).toBeGreaterThan(0);
    // The function that ran while the profiler was on is in the profile.
    expect(profile.nodes.map((n) => n.callFrame.functionName)).toContain('busyForAWhile');
    expect(profiler.running).toBe(false);
  });
});

/** Keeps a core busy for `ms` of wall time (a named function, so the profile can be searched for it). */
function busyForAWhile(ms: number): number {
  const end = performance.now() + ms;
  let turns = 0;
  while (performance.now() < end) turns += Math.sqrt(turns + 1) > 0 ? 1 : 0;
  return turns;
}
