import { describe, expect, it } from 'vitest';
import { allocate, type AllocationInput, type AllocationResult, type ShortReason } from '../../src/allocation/index.js';
import { label, launchMap, nodes, provider, situation } from './fixtures.js';

interface Case {
  title: string;
  input: AllocationInput;
  /** Exact launches as `{ 'label@provider': count }`. */
  launches?: Record<string, number>;
  /** Why each listed label got less than it wanted (undefined = it got all). */
  short?: Record<string, ShortReason | undefined>;
  /** Anything else worth saying about the result. */
  check?: (result: AllocationResult) => void;
}

const cases: Case[] = [
  {
    title: 'an empty pool is filled up to min-ready',
    input: situation({ labels: [label('a', { minReady: 3 })] }),
    launches: { 'a@p1': 3 },
    short: { a: undefined },
  },
  {
    title: 'a label that already has min-ready nodes launches nothing',
    input: situation({ labels: [label('a', { minReady: 3 })], nodes: [nodes('a', 'p1', 'ready', 3)] }),
    launches: {},
    short: { a: undefined },
  },
  {
    title: 'held and deleting nodes do not count against min-ready',
    input: situation({
      labels: [label('a', { minReady: 2 })],
      nodes: [nodes('a', 'p1', 'hold', 2), nodes('a', 'p1', 'delete', 1)],
    }),
    launches: { 'a@p1': 2 },
  },
  {
    title: 'used nodes count against queued demand',
    input: situation({ labels: [label('a')], demand: { a: 3 }, nodes: [nodes('a', 'p1', 'used', 2)] }),
    launches: { 'a@p1': 1 },
  },
  {
    title: 'building and test nodes count against min-ready',
    input: situation({
      labels: [label('a', { minReady: 3 })],
      nodes: [nodes('a', 'p1', 'building', 1), nodes('a', 'p1', 'test', 1)],
    }),
    launches: { 'a@p1': 1 },
  },
  {
    title: 'queued demand beyond min-ready is launched on top of it',
    input: situation({ labels: [label('a', { minReady: 2 })], demand: { a: 5 }, nodes: [nodes('a', 'p1', 'ready', 1)] }),
    launches: { 'a@p1': 6 },
    check: (r) => expect(r.labels[0]).toMatchObject({ queued: 5, counted: 1, actual: 4, extra: 6, granted: 6 }),
  },
  {
    title: 'min-ready is topped up only with what queued demand leaves free',
    input: situation({ labels: [label('a', { minReady: 4 })], providers: [provider('p1', 5)], demand: { a: 3 } }),
    launches: { 'a@p1': 5 },
    short: { a: 'min-ready-deferred' },
    check: (r) =>
      expect(r.labels[0]?.message).toBe('label a: 7 wanted, 5 launched: providers are full (p1 at max-servers): 2 of the min-ready top-up of 4 fit'),
  },
  {
    title: 'a min-ready top-up that fits exactly is launched',
    input: situation({ labels: [label('a', { minReady: 2 })], providers: [provider('p1', 5)], demand: { a: 3 } }),
    launches: { 'a@p1': 5 },
    short: { a: undefined },
  },
  {
    title: 'when two labels compete for one short provider, queued demand of both comes before min-ready',
    input: situation({
      labels: [label('a', { minReady: 5 }), label('b')],
      providers: [provider('p1', 4)],
      demand: { a: 2, b: 2 },
    }),
    launches: { 'a@p1': 2, 'b@p1': 2 },
    short: { a: 'min-ready-deferred', b: undefined },
  },
  {
    title: 'scarce capacity is shared between labels in proportion to their queued demand',
    input: situation({
      labels: [label('a'), label('b')],
      providers: [provider('p1', 6)],
      demand: { a: 10, b: 2 },
    }),
    launches: { 'a@p1': 5, 'b@p1': 1 },
    short: { a: 'capacity', b: 'capacity' },
  },
  {
    title: 'max-servers counts sub-nodes: a node with two sub-nodes takes three servers',
    input: situation({
      labels: [label('a', { subnodes: 2 })],
      providers: [provider('p1', 10)],
      providerServers: { p1: 4 },
      demand: { a: 5 },
    }),
    launches: { 'a@p1': 2 },
    short: { a: 'capacity' },
    check: (r) => expect(r.providers[0]).toEqual({ provider: 'p1', free: 6, used: 6 }),
  },
  {
    title: 'a provider at max-servers -1 is retired and the label uses its other provider',
    input: situation({
      labels: [label('a', { minReady: 4, providers: ['p1', 'p2'] })],
      providers: [provider('p1', -1), provider('p2', 10)],
    }),
    launches: { 'a@p2': 4 },
    check: (r) => expect(r.labels[0]?.providers).toEqual(['p2']),
  },
  {
    title: 'a label whose only provider has max-servers 0 launches nothing',
    input: situation({ labels: [label('a', { minReady: 2 })], providers: [provider('p1', 0)], demand: { a: 1 } }),
    launches: {},
    short: { a: 'no-provider' },
  },
  {
    title: 'a disabled label launches nothing even with queued demand',
    input: situation({ labels: [label('a', { minReady: -1 })], demand: { a: 4 } }),
    launches: {},
    short: { a: 'disabled' },
    check: (r) => expect(r.labels[0]?.message).toBe('label a: 4 wanted, 0 launched: label is disabled (min-ready -1)'),
  },
  {
    title: 'a provider without a ready image of the label takes no part',
    input: situation({
      labels: [label('a', { minReady: 4, providers: ['p1', 'p2'] })],
      providers: [provider('p1'), provider('p2')],
      usableImages: [{ provider: 'p2', image: 'a-image' }],
    }),
    launches: { 'a@p2': 4 },
  },
  {
    title: 'a label whose image is ready in none of its providers launches nothing and says so',
    input: situation({
      labels: [label('a', { minReady: 3, providers: ['p1', 'p2'] })],
      providers: [provider('p1'), provider('p2')],
      usableImages: [{ provider: 'p1', image: 'other-image' }],
    }),
    launches: {},
    short: { a: 'no-image' },
    check: (r) => expect(r.labels[0]?.message).toBe('label a: 3 wanted, 0 launched: no provider has a ready image'),
  },
  {
    title: 'a label is spread over two providers roughly in proportion to their free capacity',
    input: situation({
      labels: [label('a', { providers: ['p1', 'p2'] })],
      providers: [provider('p1', 10), provider('p2', 5)],
      demand: { a: 10 },
    }),
    check: (r) => {
      const m = launchMap(r);
      expect((m['a@p1'] ?? 0) + (m['a@p2'] ?? 0)).toBe(10);
      expect(m['a@p1']).toBeGreaterThanOrEqual(6);
      expect(m['a@p1']).toBeLessThanOrEqual(7);
    },
  },
  {
    title: 'sub-node deficits of existing nodes are filled before new nodes',
    input: situation({
      labels: [label('a', { subnodes: 2 }), label('b')],
      providers: [provider('p1', 4)],
      providerServers: { p1: 1 },
      nodes: [nodes('a', 'p1', 'building', 1)],
      subnodeDeficits: [{ nodeId: 7, provider: 'p1', label: 'a', missing: 2 }],
      demand: { b: 3 },
    }),
    launches: { 'b@p1': 1 },
    short: { a: undefined, b: 'capacity' },
    check: (r) => expect(r.subnodeLaunches).toEqual([{ nodeId: 7, provider: 'p1', label: 'a', count: 2 }]),
  },
  {
    title: 'the oldest node gets its sub-nodes first when room is short',
    input: situation({
      labels: [label('a', { subnodes: 2 })],
      providers: [provider('p1', 5)],
      providerServers: { p1: 2 },
      subnodeDeficits: [
        { nodeId: 9, provider: 'p1', label: 'a', missing: 2 },
        { nodeId: 3, provider: 'p1', label: 'a', missing: 2 },
      ],
    }),
    launches: {},
    check: (r) =>
      expect(r.subnodeLaunches).toEqual([
        { nodeId: 3, provider: 'p1', label: 'a', count: 2 },
        { nodeId: 9, provider: 'p1', label: 'a', count: 1 },
      ]),
  },
  {
    title: 'sub-nodes are not launched where the label has no ready image',
    input: situation({
      labels: [label('a', { subnodes: 1 })],
      usableImages: [],
      subnodeDeficits: [{ nodeId: 1, provider: 'p1', label: 'a', missing: 1 }],
    }),
    launches: {},
    check: (r) => expect(r.subnodeLaunches).toEqual([]),
  },
  {
    title: 'quota headroom lower than max-servers limits the launches',
    input: situation({ labels: [label('a')], providers: [provider('p1', 10)], quotaHeadroom: { p1: 2 }, demand: { a: 5 } }),
    launches: { 'a@p1': 2 },
    short: { a: 'capacity' },
    check: (r) => expect(r.labels[0]?.message).toBe('label a: 5 wanted, 2 launched: providers are full (p1 at its cloud quota), 3 queued still wait'),
  },
  {
    title: 'the log names each full provider and whether max-servers or the quota bounds it',
    input: situation({
      labels: [label('a', { providers: ['p1', 'p2'] })],
      providers: [provider('p1', 1), provider('p2', 10)],
      quotaHeadroom: { p1: 5, p2: 1 },
      demand: { a: 4 },
    }),
    launches: { 'a@p1': 1, 'a@p2': 1 },
    short: { a: 'capacity' },
    check: (r) =>
      expect(r.labels[0]?.message).toBe('label a: 4 wanted, 2 launched: providers are full (p1 at max-servers, p2 at its cloud quota), 2 queued still wait'),
  },
  {
    title: 'an unknown quota leaves max-servers as the only limit',
    input: situation({ labels: [label('a')], providers: [provider('p1', 4)], quotaHeadroom: { p1: undefined }, demand: { a: 5 } }),
    launches: { 'a@p1': 4 },
  },
  {
    title: 'nodes on an offline target do not count and new nodes go to the first online target',
    input: situation({
      labels: [label('a', { minReady: 2 })],
      targets: ['t1', 't2'],
      onlineTargets: ['t2'],
      nodes: [nodes('a', 'p1', 'ready', 2, 't1')],
    }),
    launches: { 'a@p1': 2 },
    check: (r) => expect(r.launches).toEqual([{ provider: 'p1', label: 'a', target: 't2', count: 2 }]),
  },
  {
    title: 'a label with several online targets launches for the first one in the configuration',
    input: situation({ labels: [label('a', { minReady: 1 })], targets: ['t1', 't2'] }),
    check: (r) => expect(r.launches).toEqual([{ provider: 'p1', label: 'a', target: 't1', count: 1 }]),
  },
  {
    title: 'with no target online nothing is launched',
    input: situation({ labels: [label('a', { minReady: 1 })], onlineTargets: [] }),
    launches: {},
    short: { a: 'no-target' },
  },
  {
    title: 'a label with several providers where one is full uses the others',
    input: situation({
      labels: [label('a', { providers: ['p1', 'p2', 'p3'] })],
      providers: [provider('p1', 5), provider('p2', 5), provider('p3', 5)],
      providerServers: { p1: 5, p2: 0, p3: 0 },
      demand: { a: 4 },
    }),
    launches: { 'a@p2': 2, 'a@p3': 2 },
  },
  {
    title: 'nodes of other labels fill max-servers and leave no room',
    input: situation({
      labels: [label('a', { minReady: 2 }), label('b')],
      providers: [provider('p1', 3)],
      nodes: [nodes('b', 'p1', 'used', 3)],
      demand: { a: 1 },
    }),
    launches: {},
    short: { a: 'capacity' },
    check: (r) => expect(r.labels[0]?.message).toBe('label a: 3 wanted, 0 launched: providers are full (p1 at max-servers), 1 queued still wait'),
  },
  {
    title: 'nonsense counts (negative, fractional) are read as whole numbers at least zero',
    input: situation({ labels: [label('a', { minReady: 2 })], demand: { a: -4 }, nodes: [nodes('a', 'p1', 'ready', 1.7)] }),
    launches: { 'a@p1': 1 },
  },
];

describe('allocation', () => {
  for (const c of cases) {
    it(c.title, () => {
      const result = allocate(c.input);
      if (c.launches) expect(launchMap(result)).toEqual(c.launches);
      for (const [name, reason] of Object.entries(c.short ?? {})) {
        expect(result.labels.find((l) => l.label === name)?.short, `short reason of ${name}`).toBe(reason);
      }
      c.check?.(result);
    });
  }

  it('the same input always gives the same output', () => {
    const input = situation({
      labels: [label('a', { minReady: 3, providers: ['p1', 'p2'] }), label('b', { subnodes: 1, providers: ['p2'] })],
      providers: [provider('p1', 4), provider('p2', 6)],
      demand: { a: 4, b: 3 },
    });
    expect(allocate(input)).toEqual(allocate(input));
  });
});
