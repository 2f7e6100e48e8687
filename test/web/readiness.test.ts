import { describe, expect, it } from 'vitest';
import type { ServerListOutcome } from '../../src/gateway/index.js';
import { readinessProblems, serverListBoundMs, type ReadinessProbe } from '../../src/web/index.js';

const NOW = 1_700_000_000_000;
const providers = [{ name: 'fake-a', rate: 1 }, { name: 'fake-b', rate: 1 }];

function probe(overrides: Partial<ReadinessProbe> & { lists?: Record<string, ServerListOutcome> } = {}): ReadinessProbe {
  const lists = overrides.lists ?? { 'fake-a': { succeededAt: NOW - 1_000 }, 'fake-b': { succeededAt: NOW - 2_000 } };
  return {
    pingDatabase: async () => {},
    config: () => ({ providers }) as never,
    serverList: (name) => lists[name],
    now: () => NOW,
    ...overrides,
  };
}

describe('readiness', () => {
  it('is ready when the database answers, the configuration is loaded and every provider listed its servers recently', async () => {
    expect(await readinessProblems(probe())).toEqual([]);
  });

  it('is not ready while the database refuses, saying why in one line', async () => {
    const problems = await readinessProblems(probe({ pingDatabase: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:3306\n    at stack')) }));
    expect(problems).toEqual(['the database does not answer: connect ECONNREFUSED 127.0.0.1:3306']);
  });

  it('is not ready without a configuration', async () => {
    expect(await readinessProblems(probe({ config: () => undefined }))).toEqual(['the configuration is not loaded']);
  });

  it('names each provider whose last list failed, is too old, or has not happened, one line each', async () => {
    const stale = NOW - serverListBoundMs({ rate: 1 }) - 5_000;
    const failing = probe({
      lists: { 'fake-a': { succeededAt: NOW - 70_000, failure: { at: NOW - 3_000, message: 'HTTP 503 from nova' } }, 'fake-b': { succeededAt: stale } },
    });
    expect(await readinessProblems(failing)).toEqual([
      'provider fake-a: the last server list failed 3 s ago: HTTP 503 from nova',
      'provider fake-b: the last good server list is 65 s ago, more than 60 s',
    ]);
    expect(await readinessProblems(probe({ lists: { 'fake-a': { succeededAt: NOW } } }))).toEqual(['provider fake-b: no server list yet']);
  });

  it('gives slow providers more time: several of their list intervals', () => {
    expect(serverListBoundMs({ rate: 0.001 })).toBe(60_000);
    expect(serverListBoundMs({ rate: 10 })).toBe(100_000);
  });
});
