import { describe, expect, it } from 'vitest';
import {
  allocate,
  emptyHistory,
  HISTORY_WINDOW,
  type AllocationHistory,
  type AllocationInput,
} from '../../src/allocation/index.js';
import { label, launchMap, provider, situation } from './fixtures.js';

/** Runs the same situation `runs` times, carrying the history, and lists each run's launches. */
function repeat(input: AllocationInput, runs: number): { launches: string[][]; history: AllocationHistory } {
  let history = emptyHistory();
  const launches: string[][] = [];
  for (let i = 0; i < runs; i++) {
    const result = allocate({ ...input, history });
    history = result.history;
    launches.push(Object.keys(launchMap(result)).sort());
  }
  return { launches, history };
}

describe('allocation history', () => {
  it('a label granted one node per run alternates between two equal providers', () => {
    const input = situation({
      labels: [label('a', { providers: ['p1', 'p2'] })],
      providers: [provider('p1', 5), provider('p2', 5)],
      demand: { a: 1 },
    });
    expect(repeat(input, 4).launches).toEqual([['a@p1'], ['a@p2'], ['a@p1'], ['a@p2']]);
  });

  it('without history the first provider would win every time', () => {
    const input = situation({
      labels: [label('a', { providers: ['p1', 'p2'] })],
      providers: [provider('p1', 5), provider('p2', 5)],
      demand: { a: 1 },
    });
    expect(launchMap(allocate(input))).toEqual({ 'a@p1': 1 });
    expect(launchMap(allocate(input))).toEqual({ 'a@p1': 1 });
  });

  it('two labels that each want the last free server take turns across runs', () => {
    const input = situation({
      labels: [label('a'), label('b')],
      providers: [provider('p1', 1)],
      demand: { a: 1, b: 1 },
    });
    expect(repeat(input, 4).launches).toEqual([['a@p1'], ['b@p1'], ['a@p1'], ['b@p1']]);
  });

  it('one node at a time over many runs follows the providers free capacity', () => {
    const input = situation({
      labels: [label('a', { providers: ['p1', 'p2'] })],
      providers: [provider('p1', 10), provider('p2', 5)],
      demand: { a: 1 },
    });
    const runs = repeat(input, 30).launches.flat();
    const p1 = runs.filter((l) => l === 'a@p1').length;
    expect(p1).toBeGreaterThanOrEqual(19);
    expect(p1).toBeLessThanOrEqual(21);
  });

  it('the history counts runs and remembers when each label last got a node', () => {
    const input = situation({ labels: [label('a', { minReady: 1 }), label('b')] });
    const { history } = repeat(input, 2);
    expect(history.run).toBe(2);
    expect(history.labels).toEqual({ a: { lastGranted: 2, providers: { p1: 2 } } });
  });

  it('the history stays small: a label past the window has its counts halved', () => {
    const input = situation({
      labels: [label('a', { providers: ['p1', 'p2'] })],
      providers: [provider('p1', 100), provider('p2', 100)],
      demand: { a: 150 },
    });
    const { history } = repeat(input, 10);
    const counts = history.labels.a?.providers ?? {};
    const total = Object.values(counts).reduce((s, n) => s + n, 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(HISTORY_WINDOW);
  });

  it('the history forgets labels and providers that left the configuration', () => {
    const history: AllocationHistory = {
      run: 5,
      labels: {
        gone: { lastGranted: 4, providers: { p1: 3 } },
        a: { lastGranted: 5, providers: { p1: 2, retired: 9 } },
      },
    };
    const result = allocate({ ...situation({ labels: [label('a')] }), history });
    expect(result.history).toEqual({ run: 6, labels: { a: { lastGranted: 5, providers: { p1: 2 } } } });
  });

  it('the history is plain JSON', () => {
    const input = situation({ labels: [label('a', { minReady: 2 })] });
    const { history } = allocate(input);
    expect(JSON.parse(JSON.stringify(history))).toEqual(history);
  });
});
