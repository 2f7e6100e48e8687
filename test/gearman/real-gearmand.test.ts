/**
 * The client and the worker against a real gearmand on a free loopback
 * port, with the real `gearman` command line on the other side where it
 * shows that both speak the same protocol.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GearmanClient, GearmanError, GearmanJobFailed, GearmanWorker } from '../../src/gearman/index.js';
import { waitFor } from '../support/daemon.js';
import { GEARMAN, startGearmand, type TestGearmand } from '../support/gearmand.js';

let gearmand: TestGearmand;
beforeAll(async () => {
  gearmand = await startGearmand();
});
afterAll(async () => {
  await gearmand?.stop();
});

/** Each test its own function names: gearmand keeps listing a function once it saw it. */
let serial = 0;
const fn = (name: string) => `${name}-${++serial}`;

const workers: GearmanWorker[] = [];
const worker = () => {
  const w = new GearmanWorker(gearmand.address, { clientId: 'nodepool-test' });
  workers.push(w);
  return w;
};
afterAll(() => {
  for (const w of workers) w.close();
});

describe('a foreground job', () => {
  it('is answered with what its worker completed it with', async () => {
    const assign = fn('node_assign:jenkins');
    const client = new GearmanClient(gearmand.address);
    const reply = client.submitJob(assign, JSON.stringify({ node: 'small-fake-1' }), { timeoutMs: 10_000 });
    const w = worker();
    const job = await waitFor('the job to be queued', () => w.grabJob([assign]), { timeoutMs: 5000, intervalMs: 20 });
    expect(job.fn).toBe(assign);
    expect(JSON.parse(job.payload.toString())).toEqual({ node: 'small-fake-1' });
    await job.complete(JSON.stringify({ manager: 'jenkins01' }));
    expect(JSON.parse((await reply).toString())).toEqual({ manager: 'jenkins01' });
  });

  it('fails when its worker fails it', async () => {
    const revoke = fn('node_revoke:jenkins01');
    const reply = new GearmanClient(gearmand.address).submitJob(revoke, '{}', { timeoutMs: 10_000 });
    const failed = reply.then(() => undefined, (err: unknown) => err);
    const w = worker();
    const job = await waitFor('the job to be queued', () => w.grabJob([revoke]), { timeoutMs: 5000, intervalMs: 20 });
    await job.fail();
    const error = await failed;
    expect(error).toBeInstanceOf(GearmanJobFailed);
    expect((error as GearmanJobFailed).exception).toBeUndefined();
  });

  it('is run by the real gearman worker, whose answer is its command’s output', async () => {
    const upper = fn('upper');
    const real = execFile(GEARMAN, ['-h', '127.0.0.1', '-p', String(gearmand.port), '-w', '-c', '1', '-f', upper, '--', 'tr', 'a-z', 'A-Z']);
    try {
      await waitFor('the real worker', async () => ((await gearmand.row(upper))?.workers ?? 0) > 0, { timeoutMs: 5000, intervalMs: 20 });
      const reply = await new GearmanClient(gearmand.address).submitJob(upper, 'hello', { timeoutMs: 10_000 });
      expect(reply.toString()).toBe('HELLO');
    } finally {
      if (real.exitCode === null) real.kill('SIGKILL');
    }
  });

  it('times out within its bound when no worker takes it', async () => {
    const started = Date.now();
    const error = await new GearmanClient(gearmand.address).submitJob(fn('nobody'), '', { timeoutMs: 300 }).then(() => undefined, (err: unknown) => err);
    expect(error).toBeInstanceOf(GearmanError);
    expect((error as GearmanError).kind).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('a background job', () => {
  it('stays queued until a worker grabs it, and leaves the queue when completed', async () => {
    const build = fn('build:gate:small');
    const handle = await new GearmanClient(gearmand.address).submitBackgroundJob(build, 'run 1');
    expect(handle).toMatch(/^H:/);
    expect(await gearmand.row(build)).toMatchObject({ total: 1, running: 0 });

    const w = worker();
    const job = await w.grabJob([build]);
    expect(job?.handle).toBe(handle);
    expect(job?.payload.toString()).toBe('run 1');
    expect(await gearmand.row(build)).toMatchObject({ total: 1, running: 1, workers: 1 });
    await job?.complete();
    expect(await gearmand.row(build)).toMatchObject({ total: 0, running: 0 });
  });

  it('queued by the real gearman client is grabbed here', async () => {
    const build = fn('build:gate:small');
    await gearmand.submit(build, 2);
    const w = worker();
    const first = await w.grabJob([build]);
    const second = await w.grabJob([build]);
    // `gearman -n` sends each line of its input as one job, newline included.
    expect([first?.payload.toString(), second?.payload.toString()].sort()).toEqual(['payload 1\n', 'payload 2\n']);
    await Promise.all([first?.complete(), second?.fail()]);
    expect(await gearmand.row(build)).toMatchObject({ total: 0 });
    expect(await w.grabJob([build])).toBeUndefined();
  });
});

describe('a worker', () => {
  it('grabs nothing when nothing of its functions is queued, and only the functions it asks for', async () => {
    const small = fn('build:gate:small');
    const large = fn('build:gate:large');
    const client = new GearmanClient(gearmand.address);
    const w = worker();
    expect(await w.grabJob([small])).toBeUndefined();
    expect(await w.grabJob([])).toBeUndefined();
    await client.submitBackgroundJob(large, 'large');
    expect(await w.grabJob([small])).toBeUndefined();
    await client.submitBackgroundJob(small, 'small');
    const job = await w.grabJob([small]);
    expect(job?.fn).toBe(small);
    await job?.complete();
    expect(await gearmand.row(large)).toMatchObject({ total: 1, running: 0 });
    // The worker no longer offers `small` once it stops asking for it.
    await w.grabJob([large]).then((j) => j?.complete());
    expect(await gearmand.row(small)).toMatchObject({ workers: 0 });
  });

  it('closed with a job unanswered gives it back to the queue, and cannot answer it any more', async () => {
    const build = fn('build:gate:small');
    await new GearmanClient(gearmand.address).submitBackgroundJob(build, '');
    const w = worker();
    const job = await w.grabJob([build]);
    expect(await gearmand.row(build)).toMatchObject({ running: 1 });
    w.close();
    await waitFor('the job back in the queue', async () => (await gearmand.row(build))?.running === 0, { timeoutMs: 5000, intervalMs: 20 });
    const error = await job?.complete().then(() => undefined, (err: unknown) => err);
    expect((error as GearmanError).kind).toBe('cancelled');
    const again = await worker().grabJob([build]);
    expect(again?.handle).toBe(job?.handle);
    await again?.complete();
  });
});
