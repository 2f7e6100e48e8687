/**
 * The demand source against a real gearmand, jobs queued with the real
 * `gearman` client and no worker to run them: what gearmand lists, how the
 * queue becomes demand per label, and what the stream does when a server
 * stops or answers nonsense. The stream runs on a simulated clock, so each
 * poll is one step of the test; only the sockets are real.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Subscription } from 'rxjs';
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { gearmanDemand, labelDemand } from '../../src/demand/index.js';
import type { GearmanServerAddress } from '../../src/demand/index.js';
import { waitFor } from '../support/daemon.js';
import { startGearmand, type TestGearmand, type TestGearmanWorker } from '../support/gearmand.js';
import { memoryLogger } from '../streams/support.js';

const LABELS = ['small', 'large'];

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function gearmand(options: { port?: number } = {}): Promise<TestGearmand> {
  const server = await startGearmand(options);
  cleanups.push(() => server.stop());
  return server;
}

async function worker(started: Promise<TestGearmanWorker>): Promise<TestGearmanWorker> {
  const w = await started;
  cleanups.push(() => w.stop());
  return w;
}

/** A server that answers every request with `answer` and then closes. */
async function answering(answer: string): Promise<GearmanServerAddress> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { host: '127.0.0.1', port: address.port };
}

/** The stream over `servers`, stepped one poll at a time. */
function demandOf(servers: GearmanServerAddress[]) {
  const clock = new SimulatedClock();
  const { logger, lines } = memoryLogger();
  const intervalMs = 10_000;
  const emitted: Record<string, number>[] = [];
  const subscription: Subscription = gearmanDemand(servers, { labels: LABELS, logger, clock, intervalMs, timeoutMs: 2000 })
    .subscribe((demand) => emitted.push(demand));
  cleanups.push(() => subscription.unsubscribe());
  let polls = 0;
  /** Runs the next poll (the first at once) and returns what it emitted. */
  const poll = async (): Promise<Record<string, number>> => {
    const before = emitted.length;
    clock.increment(polls++ === 0 ? 0 : intervalMs);
    return waitFor('the poll to answer', () => emitted[before], { timeoutMs: 10_000, intervalMs: 10 });
  };
  const logged = (level: string) => lines.filter((l) => l.level === level);
  return { poll, logged };
}

describe('what a real gearmand lists', () => {
  it('lists a function once a job is queued for it, with running jobs counted in its total', async () => {
    const server = await gearmand();
    expect(await server.status()).toEqual([]);

    await server.submit('build:job:small', 7);
    expect(await server.row('build:job:small')).toEqual({ fn: 'build:job:small', total: 7, running: 0, workers: 0 });

    await worker(server.startBusyWorker('build:job:small'));
    expect(await server.row('build:job:small')).toEqual({ fn: 'build:job:small', total: 7, running: 1, workers: 1 });
    // As in Nodepool 0.4 the total is the demand: the running job holds a node in `used`,
    // which the allocation counts against it.
    expect(labelDemand([await server.status()], LABELS)).toEqual({ small: 7 });
  });

  it('does not list a function nobody queued for or registered, so a plain job has no label to go to', async () => {
    const server = await gearmand();
    await server.submit('build:job:small', 7);
    await server.submit('build:other', 2);

    const rows = await server.status();
    expect(rows.map((r) => r.fn).sort()).toEqual(['build:job:small', 'build:other']);
    expect(labelDemand([rows], LABELS)).toEqual({ small: 7 });
  });

  it('lists a function a worker registered, with nothing queued, and keeps listing it after the worker left', async () => {
    const server = await gearmand();
    await server.submit('build:job:small', 7);
    await server.submit('build:other', 2);

    const registering = await worker(server.startWorker('build:other:large'));
    expect(await server.row('build:other:large')).toEqual({ fn: 'build:other:large', total: 0, running: 0, workers: 1 });
    expect(labelDemand([await server.status()], LABELS)).toEqual({ small: 7, large: 2 });

    await registering.stop();
    await waitFor('the worker to leave', async () => (await server.row('build:other:large'))?.workers === 0);
    expect(await server.row('build:other:large')).toEqual({ fn: 'build:other:large', total: 0, running: 0, workers: 0 });
    expect(labelDemand([await server.status()], LABELS)).toEqual({ small: 7, large: 2 });
  });

  it('drops the queues of labels the configuration does not know', async () => {
    const server = await gearmand();
    await server.submit('build:job:small', 3);
    await server.submit('build:job:huge', 4);
    await server.submit('merger:merge', 5);
    expect(labelDemand([await server.status()], LABELS)).toEqual({ small: 3 });
  });
});

describe('the demand stream over real servers', () => {
  it('adds up the servers, gives a plain job to the first label seen on any server, and answers at once', async () => {
    const east = await gearmand();
    const west = await gearmand();
    await east.submit('build:job:small', 7);
    await east.submit('build:other', 2);
    await worker(west.startWorker('build:other:large'));
    await west.submit('build:job:small', 1);

    const { poll, logged } = demandOf([east.address, west.address]);
    expect(await poll()).toEqual({ small: 8, large: 2 });
    expect(logged('warn')).toEqual([]);
  });

  it('logs a stopped gearmand once, counts nothing from it, still counts the other, and logs once when it is back', async () => {
    const east = await gearmand();
    const west = await gearmand();
    await east.submit('build:job:small', 7);
    await west.submit('build:job:large', 2);
    const { poll, logged } = demandOf([east.address, west.address]);
    expect(await poll()).toEqual({ small: 7, large: 2 });

    await west.stop();
    expect(await poll()).toEqual({ small: 7 });
    expect(await poll()).toEqual({ small: 7 });
    expect(await poll()).toEqual({ small: 7 });
    expect(logged('warn')).toHaveLength(1);
    expect(logged('warn')[0]).toMatchObject({
      server: `127.0.0.1:${west.port}`,
      msg: expect.stringContaining(`gearman 127.0.0.1:${west.port}: connection refused`),
    });

    // Started again on its port: its queue was in memory, so only new work counts.
    const again = await gearmand({ port: west.port });
    await again.submit('build:job:large', 3);
    expect(await poll()).toEqual({ small: 7, large: 3 });
    expect(await poll()).toEqual({ small: 7, large: 3 });
    expect(logged('info').filter((l) => l.msg.includes('answers again'))).toHaveLength(1);
    expect(logged('warn')).toHaveLength(1);
  });

  it('logs a server answering nonsense once and skips it', async () => {
    const east = await gearmand();
    await east.submit('build:job:small', 7);
    const nonsense = await answering('hello there\nbuild:job:large\tmany\t0\t0\n.\n');
    const { poll, logged } = demandOf([nonsense, east.address]);

    expect(await poll()).toEqual({ small: 7 });
    expect(await poll()).toEqual({ small: 7 });
    expect(await poll()).toEqual({ small: 7 });
    expect(logged('warn')).toHaveLength(1);
    expect(logged('warn')[0]?.msg).toContain(`gearman 127.0.0.1:${nonsense.port}: unreadable status line "hello there": expected 4 tab-separated fields, got 1`);
  });
});
