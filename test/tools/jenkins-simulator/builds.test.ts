import { describe, expect, it } from 'vitest';
import { post, simulator } from './helpers.js';

describe('buildWithParameters on the Jenkins simulator', () => {
  it('queues a build with its parameters and answers 201 with the queue item as Location', async () => {
    const sim = await simulator({ jobs: [{ name: 'node-test', parameters: { NODE: '', ZUUL: 'no' } }] });
    const started = await post(sim, 'job/node-test/buildWithParameters?NODE=ubuntu-rax-1&UNKNOWN=ignored');
    expect(started.status).toBe(201);
    expect(started.headers.location).toBe(`${sim.url}queue/item/1/`);
    expect(sim.builds('node-test')).toEqual([{
      queueId: 1, job: 'node-test', parameters: { NODE: 'ubuntu-rax-1', ZUUL: 'no' }, state: 'queued', queuedAt: expect.any(Number), user: 'nodepool',
    }]);
  });

  it('takes parameters from a form body as well', async () => {
    const sim = await simulator({ jobs: [{ name: 'node-test', parameters: { NODE: '' } }] });
    expect((await post(sim, 'job/node-test/buildWithParameters', { form: { NODE: 'n2' } })).status).toBe(201);
    expect(sim.builds('node-test').map((b) => b.parameters)).toEqual([{ NODE: 'n2' }]);
  });

  it('answers 303 to the identical item still waiting in the queue, and queues anew once it left', async () => {
    const sim = await simulator({ jobs: [{ name: 'node-test', parameters: { NODE: '' } }] });
    await post(sim, 'job/node-test/buildWithParameters?NODE=a');
    const same = await post(sim, 'job/node-test/buildWithParameters?NODE=a');
    expect([same.status, same.headers.location]).toEqual([303, `${sim.url}queue/item/1/`]);
    expect((await post(sim, 'job/node-test/buildWithParameters?NODE=b')).headers.location).toBe(`${sim.url}queue/item/2/`);
    sim.startBuilds('node-test');
    expect((await post(sim, 'job/node-test/buildWithParameters?NODE=a')).status).toBe(201);
    expect(sim.builds('node-test').map((b) => [b.queueId, b.parameters.NODE, b.state])).toEqual([
      [1, 'a', 'started'], [2, 'b', 'started'], [3, 'a', 'queued'],
    ]);
  });

  it('refuses a job that is not parameterized (400) or does not exist (404)', async () => {
    const sim = await simulator({ jobs: [{ name: 'plain' }] });
    const plain = await post(sim, 'job/plain/buildWithParameters?NODE=a');
    expect([plain.status, plain.text.includes('plain is not parameterized')]).toEqual([400, true]);
    expect((await post(sim, 'job/missing/buildWithParameters?NODE=a')).status).toBe(404);
    sim.addJob({ name: 'missing', parameters: { NODE: '' } });
    expect((await post(sim, 'job/missing/buildWithParameters?NODE=a')).status).toBe(201);
    expect(sim.builds('plain')).toEqual([]);
  });
});
