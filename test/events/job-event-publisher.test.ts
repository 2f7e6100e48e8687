import { Subscriber } from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { JobEventPublisher } from '../../src/events/job-event-publisher.js';

const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

async function publisher(endpoint = 'tcp://127.0.0.1:*', bindTimeoutMs?: number): Promise<JobEventPublisher> {
  const pub = await JobEventPublisher.bind(endpoint, { bindTimeoutMs });
  cleanups.push(() => pub.close());
  return pub;
}

/** A bare SUB socket, to see what the publisher puts on the wire. */
function subscriber(endpoint: string): Subscriber {
  // A receive that gets nothing fails after 5 s rather than waiting for the test's timeout.
  const sub = new Subscriber({ linger: 0, receiveTimeout: 5000 });
  sub.subscribe();
  sub.connect(endpoint);
  cleanups.push(() => sub.close());
  return sub;
}

describe('the stand-in Jenkins publisher', () => {
  it('tells the port ZeroMQ chose', async () => {
    const pub = await publisher();
    expect(pub.endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(pub.endpoint).not.toMatch(/:\*$/);
  });

  it('sends each event as one frame, topic then the job state, with the phase and result Jenkins gives', async () => {
    const pub = await publisher('tcp://127.0.0.1:*');
    const sub = subscriber(pub.endpoint);
    await pub.waitForSubscribers(1);
    const build = { job: 'gate nova', number: 12, nodeName: 'node-1' };

    await pub.started(build);
    await pub.completed(build, 'SUCCESS');
    await pub.finalized(build, 'SUCCESS');

    const received: string[] = [];
    for (let i = 0; i < 3; i++) {
      const frames = await sub.receive();
      expect(frames).toHaveLength(1);
      received.push(String(frames[0]));
    }
    expect(received.map((m) => m.split(' ')[0])).toEqual(['onStarted', 'onCompleted', 'onFinalized']);
    const states = received.map((m) => JSON.parse(m.slice(m.indexOf(' ') + 1)) as { build: Record<string, unknown> });
    expect(states[0]).toEqual({
      name: 'gate nova',
      url: 'job/gate%20nova/',
      build: { full_url: 'https://jenkins.example.org/job/gate%20nova/12/', number: 12, phase: 'STARTED', url: 'job/gate%20nova/12/', node_name: 'node-1' },
    });
    expect(states.map((s) => [s.build['phase'], s.build['status']])).toEqual([['STARTED', undefined], ['COMPLETED', 'SUCCESS'], ['FINISHED', 'SUCCESS']]);
  });

  it('counts subscribers as they come and go', async () => {
    const pub = await publisher();
    const first = subscriber(pub.endpoint);
    subscriber(pub.endpoint);
    await pub.waitForSubscribers(2);
    first.close();
    await pub.waitForSubscribersAtMost(1);
    expect(pub.subscribers).toBe(1);
  });

  it('says how long it waited when no subscriber comes', async () => {
    const pub = await publisher();
    await expect(pub.waitForSubscribers(1, 50)).rejects.toThrow(`${pub.endpoint}: waited 50 ms for 1 subscriber(s); 0 now`);
  });

  it('refuses an endpoint another publisher holds, once the bind timeout has passed', async () => {
    const holder = await publisher();
    const started = Date.now();
    await expect(publisher(holder.endpoint, 100)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });
});
