/**
 * The CI simulator's core on a simulated clock, with nodes kept in memory
 * and its own queue: runs queued on time, each taking one free ready node of
 * its label, lasting their duration, failing as often as the job's
 * failure-rate draws, and what a reload and a stop do to them.
 */
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import type { CiSimulatorJob } from '../../../src/config/types.js';
import { seededRandom } from '../../../src/simulated-cloud/random.js';
import { CiSimulator, LocalRunQueue, MAX_QUEUED_RUNS_PER_JOB, type BuildEvent, type CiSimulatorOptions, type NodeSource, type SimulatedNode } from '../../../src/tools/ci-simulator/index.js';
import { memoryLogger } from '../../streams/support.js';

const job = (name: string, overrides: Partial<CiSimulatorJob> = {}): CiSimulatorJob => ({
  name, label: 'small', everyS: 10, durationS: 15, failureRate: 0, holdOnFailure: 0, ...overrides,
});

/** Ready nodes per label that a test adds and removes, as nodepoold would. */
class MemoryNodes implements NodeSource {
  readonly ready: SimulatedNode[] = [];
  readonly used = new Set<number>();
  private ids = 0;
  private made = 0;

  add(label = 'small', id = ++this.ids): SimulatedNode {
    const node = { id, nodename: `${label}-fake-${id}`, label, provider: 'fake', ip: '203.0.113.1', createdAt: ++this.made };
    this.ready.push(node);
    return node;
  }

  remove(id: number): void {
    const at = this.ready.findIndex((n) => n.id === id);
    if (at >= 0) this.ready.splice(at, 1);
  }

  readyNodes(label: string): Promise<SimulatedNode[]> {
    return Promise.resolve(this.ready.filter((n) => n.label === label));
  }

  stillUsed(ids: readonly number[]): Promise<number[]> {
    return Promise.resolve(ids.filter((id) => this.used.has(id)));
  }
}

const simulators: CiSimulator[] = [];
afterEach(async () => {
  for (const simulator of simulators.splice(0)) await simulator.stop();
});

function world(jobs: CiSimulatorJob[], options: Partial<CiSimulatorOptions> = {}) {
  const clock = new SimulatedClock();
  const nodes = new MemoryNodes();
  const queue = new LocalRunQueue(() => clock.now());
  const { logger, lines } = memoryLogger();
  // Runs look for nodes once a second here: the timings below are written in whole seconds.
  const simulator = new CiSimulator({ jobs, queue, nodes, clock, log: logger, random: seededRandom(1), dispatchIntervalMs: 1_000, ...options });
  simulators.push(simulator);
  const events: BuildEvent[] = [];
  simulator.builds.subscribe((e) => events.push(e));
  let demand: Record<string, number> = {};
  queue.demand.subscribe((d) => { demand = d; });
  /** Moves time on in steps of 100 ms, letting the promises of each step settle. */
  const advance = async (ms: number) => {
    for (let passed = 0; passed < ms; passed += 100) {
      clock.increment(Math.min(100, ms - passed));
      await settle();
    }
  };
  const described = () => events.map((e) => `${e.phase} ${e.build.job}#${e.build.number} on ${e.build.nodeName}${e.status ? ` ${e.status}` : ''}`);
  return { clock, nodes, queue, simulator, events, described, lines, advance, demand: () => demand };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('the CI simulator', () => {
  it('queues a run at once and every period; a run waits for a ready node of its label, takes it and ends after its duration', async () => {
    const w = world([job('gate', { everyS: 10, durationS: 15 })]);
    await w.simulator.start();
    await settle();
    expect(w.demand()).toEqual({ small: 1 });
    w.nodes.add('large');
    await w.advance(2000);
    expect(w.events).toEqual([]);

    const a = w.nodes.add('small');
    await w.advance(1000);
    expect(w.described()).toEqual([`started gate#1 on ${a.nodename}`]);
    // The run waited from its queueing until the node came: what a CI user feels of the pool.
    const started = w.lines.find((l) => /^run 1 of gate started/.test(String(l.msg)));
    expect(started?.waitedMs).toBeGreaterThanOrEqual(2000);
    expect(started?.waitedMs).toBeLessThanOrEqual(3000);
    expect(w.demand()).toEqual({ small: 1 });
    await w.advance(8000);
    expect(w.demand()).toEqual({ small: 2 });
    await w.advance(6900);
    expect(w.events).toHaveLength(1);
    await w.advance(100);
    expect(w.described()).toEqual([`started gate#1 on ${a.nodename}`, `finalized gate#1 on ${a.nodename} SUCCESS`]);
    expect(w.demand()).toEqual({ small: 1 });
  });

  it('takes a node for one run only, until it leaves the ready nodes; a node made anew under the same id is another node', async () => {
    const w = world([job('gate', { everyS: 1, durationS: 1 })]);
    const a = w.nodes.add();
    await w.simulator.start();
    await w.advance(5000);
    // nodepoold did not act on the events (the node stays ready): the run after it waits.
    expect(w.described()).toEqual([`started gate#1 on ${a.nodename}`, `finalized gate#1 on ${a.nodename} SUCCESS`]);
    w.nodes.remove(a.id);
    await w.advance(1000);
    const again = w.nodes.add('small', a.id);
    await w.advance(1000);
    expect(w.described().at(-1)).toBe(`started gate#2 on ${again.nodename}`);
    expect(w.simulator.running()).toEqual([{ job: 'gate', number: 2, nodeId: a.id, nodeName: again.nodename }]);
  });

  it('fails runs as often as the job’s failure-rate draws, with the injected random', async () => {
    const w = world([job('flaky', { everyS: 1, durationS: 0, failureRate: 0.5 })], { random: seededRandom(7) });
    await w.simulator.start();
    for (let i = 0; i < 12; i++) {
      w.nodes.add();
      await w.advance(1000);
    }
    await w.advance(1000);
    const draws = seededRandom(7);
    const results = w.events.filter((e) => e.phase === 'finalized').map((e) => e.status);
    expect(results).toHaveLength(12);
    expect(results).toEqual(results.map(() => (draws() < 0.5 ? 'FAILURE' : 'SUCCESS')));
    expect(new Set(results)).toEqual(new Set(['SUCCESS', 'FAILURE']));
  });

  it('never fails a run at failure-rate 0 and always at 1', async () => {
    const w = world([job('good', { everyS: 1, durationS: 0 }), job('bad', { label: 'large', everyS: 1, durationS: 0, failureRate: 1 })]);
    await w.simulator.start();
    for (let i = 0; i < 5; i++) {
      w.nodes.add('small');
      w.nodes.add('large');
      await w.advance(1000);
    }
    const resultsOf = (name: string) => new Set(w.events.filter((e) => e.phase === 'finalized' && e.build.job === name).map((e) => e.status));
    expect(resultsOf('good')).toEqual(new Set(['SUCCESS']));
    expect(resultsOf('bad')).toEqual(new Set(['FAILURE']));
  });

  it('speaks to nodepoold in the job events it hears from Jenkins', async () => {
    const w = world([job('gate', { everyS: 1, durationS: 1 })]);
    const heard: unknown[] = [];
    w.simulator.jobEvents.subscribe((e) => heard.push(e));
    const a = w.nodes.add();
    await w.simulator.start();
    await w.advance(1500);
    expect(heard).toEqual([
      { kind: 'started', job: 'gate', nodeName: a.nodename, parameters: {} },
      { kind: 'finalized', job: 'gate', nodeName: a.nodename, status: 'SUCCESS', parameters: {} },
    ]);
  });

  it('makes a missing job row with the job’s hold-on-failure, and leaves an existing one as it is', async () => {
    const rows = new Map<string, number>([['gate', 3]]);
    const jobRows = {
      getByName: (name: string) => Promise.resolve(rows.has(name) ? { id: 1, name, holdOnFailure: rows.get(name) ?? 0 } : undefined),
      create: (name: string, holdOnFailure = 0) => {
        rows.set(name, holdOnFailure);
        return Promise.resolve({ id: 2, name, holdOnFailure });
      },
    };
    const w = world([job('gate', { holdOnFailure: 1 }), job('flaky', { holdOnFailure: 2 })], { jobRows });
    await w.simulator.start();
    expect(Object.fromEntries(rows)).toEqual({ gate: 3, flaky: 2 });
    w.simulator.reconfigure([job('gate'), job('flaky'), job('nightly', { holdOnFailure: 1 })]);
    await settle();
    expect(rows.get('nightly')).toBe(1);
  });

  it('runs on a node only what it can reach: a run whose node does not answer fails', async () => {
    const w = world([job('gate', { everyS: 1, durationS: 1 })], {
      work: (node) => (node.id === 2 ? Promise.reject(new Error('connection refused')) : node.id === 1 ? Promise.resolve() : undefined),
    });
    w.nodes.add();
    w.nodes.add();
    await w.simulator.start();
    await w.advance(3000);
    expect(w.events.filter((e) => e.phase === 'finalized').map((e) => `${e.build.nodeName} ${e.status}`)).toEqual(['small-fake-1 SUCCESS', 'small-fake-2 FAILURE']);
    expect(w.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['run 2 of gate could not reach node 2: connection refused']);
  });

  it('starts no run while it may not (nobody listens to its events)', async () => {
    let listening = false;
    const w = world([job('gate', { everyS: 1, durationS: 1 })], { mayStart: () => listening });
    w.nodes.add();
    await w.simulator.start();
    await w.advance(3000);
    expect(w.events).toEqual([]);
    listening = true;
    await w.advance(1000);
    expect(w.described()).toEqual(['started gate#1 on small-fake-1']);
  });

  it('stops queueing a job at its bound when its runs find no node, and says so once', async () => {
    const w = world([job('gate', { everyS: 1 })]);
    await w.simulator.start();
    await w.advance(MAX_QUEUED_RUNS_PER_JOB * 1000 + 10_000);
    expect(w.demand()).toEqual({ small: MAX_QUEUED_RUNS_PER_JOB });
    expect(w.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([`${MAX_QUEUED_RUNS_PER_JOB} runs of gate wait for a small node: no more are queued until one starts`]);
  });

  it('follows a reload: a removed job queues no more and its waiting runs go, a new one queues at once, a new period applies', async () => {
    const w = world([job('gate', { everyS: 5 }), job('old', { everyS: 5 })]);
    await w.simulator.start();
    await w.advance(100);
    expect(w.demand()).toEqual({ small: 2 });
    w.simulator.reconfigure([job('gate', { everyS: 1 }), job('new', { label: 'large', everyS: 60 })]);
    await settle();
    expect(w.demand()).toEqual({ small: 1, large: 1 });
    await w.advance(3000);
    expect(w.demand()).toEqual({ small: 4, large: 1 });
    expect(w.lines.some((l) => /CI simulator jobs: gate \(small, every 1 s, 15 s\), new \(large, every 60 s, 15 s\)/.test(l.msg))).toBe(true);
  });

  it('stopping aborts the runs under way and waits for nodepoold to end their nodes; nothing is queued after', async () => {
    const w = world([job('gate', { everyS: 1, durationS: 60 })]);
    const a = w.nodes.add();
    // nodepoold: a started node is used until its run is heard to end.
    w.simulator.builds.subscribe((e) => (e.phase === 'started' ? w.nodes.used.add(a.id) : w.nodes.used.delete(a.id)));
    await w.simulator.start();
    await w.advance(1000);
    expect(w.nodes.used.has(a.id)).toBe(true);
    await w.simulator.stop();
    expect(w.described()).toEqual([`started gate#1 on ${a.nodename}`, `finalized gate#1 on ${a.nodename} ABORTED`]);
    const demand = w.demand();
    await w.advance(5000);
    expect(w.events).toHaveLength(2);
    expect(w.demand()).toEqual(demand);
  });

  it('gives up waiting for nodes that stay used after its bound, and says which', async () => {
    const w = world([job('gate', { everyS: 1, durationS: 60 })], { stopWaitMs: 1000 });
    const a = w.nodes.add();
    w.nodes.used.add(a.id);
    await w.simulator.start();
    await w.advance(1000);
    const stopped = w.simulator.stop();
    await w.advance(1500);
    await stopped;
    expect(w.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([`node(s) ${a.id} of aborted runs are still used; nodepoold did not hear their end`]);
  });
});
