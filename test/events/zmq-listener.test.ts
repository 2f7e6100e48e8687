/**
 * The job event listener on real ZeroMQ sockets over loopback. Every
 * publisher binds 127.0.0.1 on a port ZeroMQ picks. A subscriber misses what
 * is published before its subscription reaches the publisher, so each test
 * waits for the publisher to see the subscription before it publishes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build as bundle } from 'esbuild';
import { Subject } from 'rxjs';
import { Subscriber } from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { JobEventPublisher } from '../../src/events/job-event-publisher.js';
import type { JenkinsBuild } from '../../src/events/job-event-publisher.js';
import { jobEvents } from '../../src/events/zmq-listener.js';
import type { JobEventsOptions, PublisherEndpoints } from '../../src/events/zmq-listener.js';
import type { JobEvent } from '../../src/events/job-event.js';
import { eventually, memoryLogger, Received } from './support.js';

const LOOPBACK = 'tcp://127.0.0.1:*';

const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

async function publisher(endpoint = LOOPBACK): Promise<JobEventPublisher> {
  const pub = await JobEventPublisher.bind(endpoint);
  cleanups.push(() => pub.close());
  return pub;
}

function listen(endpoints: PublisherEndpoints, options: Partial<JobEventsOptions> = {}) {
  const { log, lines } = memoryLogger();
  const received = new Received<JobEvent>(jobEvents(endpoints, { log, ...options }));
  cleanups.push(() => received.stop());
  return { received, lines };
}

/** An endpoint nothing listens on: bound once for a free port, then let go. */
async function freeEndpoint(): Promise<string> {
  const pub = await JobEventPublisher.bind(LOOPBACK);
  pub.close();
  return pub.endpoint;
}

function build(nodeName: string, job = 'gate-nova-python27', number = 1): JenkinsBuild {
  return { job, number, nodeName, parameters: { ZUUL_BRANCH: 'master' } };
}

describe('job events from Jenkins publishers', () => {
  it('a build started and finished on a node reaches the listener as two events', async () => {
    const pub = await publisher();
    const { received, lines } = listen([pub.endpoint]);
    await pub.waitForSubscribers(1);

    await pub.started(build('node-1'));
    await pub.completed(build('node-1'), 'FAILURE');
    await pub.finalized(build('node-1'), 'FAILURE');

    expect(await received.count(2)).toEqual([
      { kind: 'started', job: 'gate-nova-python27', nodeName: 'node-1', parameters: { ZUUL_BRANCH: 'master' } },
      { kind: 'finalized', job: 'gate-nova-python27', nodeName: 'node-1', status: 'FAILURE', parameters: { ZUUL_BRANCH: 'master' } },
    ]);
    await eventually(() => lines.some((l) => l.msg === 'ignored a job event message'), 'the onCompleted logged as ignored');
    const ignored = lines.find((l) => l.msg === 'ignored a job event message');
    expect(ignored).toMatchObject({ level: 'debug', endpoint: pub.endpoint });
    // The socket's events come through a monitor of their own, so the log of the connection may trail the messages.
    await eventually(() => lines.some((l) => l.msg === 'connected to the job event publisher'), 'the connection logged');
    expect(lines.find((l) => l.msg === 'connected to the job event publisher')).toMatchObject({ level: 'info', endpoint: pub.endpoint });
  });

  it('a malformed message between two good ones is logged and dropped, and the next one still arrives', async () => {
    const pub = await publisher();
    const { received, lines } = listen([pub.endpoint]);
    await pub.waitForSubscribers(1);

    await pub.started(build('node-1'));
    await pub.send(`onFinalized {"name": "gate-nova-python27", "build": {"node_name": 42}, "padding": "${'x'.repeat(1000)}"}`);
    await pub.finalized(build('node-2'), 'SUCCESS');

    const events = await received.count(2);
    expect(events.map((e) => [e.kind, e.nodeName])).toEqual([['started', 'node-1'], ['finalized', 'node-2']]);
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ endpoint: pub.endpoint, reason: 'build.node_name is a number, not a string' });
    expect(warnings[0]?.msg).toContain('build.node_name is a number');
    expect(warnings[0]?.message).toHaveLength(200);
    expect(warnings[0]?.message?.startsWith('onFinalized {"name": "gate-nova-python27"')).toBe(true);
  });

  it('a publisher that goes away and comes back on the same endpoint is heard again', async () => {
    const first = await publisher();
    const endpoint = first.endpoint;
    const { received, lines } = listen([endpoint]);
    await first.waitForSubscribers(1);
    await first.started(build('node-1'));
    await received.count(1);

    first.close();
    await eventually(() => lines.some((l) => l.msg.startsWith('lost the job event publisher')), 'the loss logged');
    const second = await publisher(endpoint);
    await second.waitForSubscribers(1);
    await second.finalized(build('node-1'), 'SUCCESS');

    expect((await received.count(2)).map((e) => e.kind)).toEqual(['started', 'finalized']);
    const connections = () => lines.filter((l) => l.msg === 'connected to the job event publisher').length;
    await eventually(() => connections() === 2, 'the second connection logged');
    const changes = lines.filter((l) => /^(connected|lost)/.test(l.msg)).map((l) => `${l.level} ${l.msg}`);
    expect(changes).toEqual([
      'info connected to the job event publisher',
      'warn lost the job event publisher; reconnecting',
      'info connected to the job event publisher',
    ]);
  });

  it('a publisher that is not there yet is found once it binds', async () => {
    const endpoint = await freeEndpoint();
    const { received, lines } = listen([endpoint]);
    // The socket opens once ZeroMQ is loaded, a moment after the listener is made.
    await eventually(() => lines.some((l) => l.msg === 'listening for job events'), 'the listening line');
    expect(lines.find((l) => l.msg === 'listening for job events')).toMatchObject({ endpoint });

    const pub = await publisher(endpoint);
    await pub.waitForSubscribers(1);
    await pub.started(build('node-7'));

    expect((await received.count(1))[0]).toMatchObject({ kind: 'started', nodeName: 'node-7' });
  });

  it('listens to two publishers at once', async () => {
    const east = await publisher();
    const west = await publisher();
    const { received, lines } = listen([east.endpoint, west.endpoint]);
    await east.waitForSubscribers(1);
    await west.waitForSubscribers(1);

    await east.started(build('east-1', 'job-east'));
    await west.started(build('west-1', 'job-west'));
    await east.send('onStarted not-json');

    const events = await received.count(2);
    expect(events.map((e) => `${e.job} ${e.nodeName}`).sort()).toEqual(['job-east east-1', 'job-west west-1']);
    await eventually(() => lines.some((l) => l.level === 'warn'), 'the malformed message logged');
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.endpoint)).toEqual([east.endpoint]);
  });

  it('the same endpoint twice in the list is listened to once', async () => {
    const pub = await publisher();
    const { received } = listen([pub.endpoint, pub.endpoint]);
    await pub.waitForSubscribers(1);
    await pub.started(build('node-1'));
    await received.count(1);
    expect(pub.subscribers).toBe(1);
    expect(received.values).toHaveLength(1);
  });

  it('an endpoint that is not a ZeroMQ address is logged and the others are still heard', async () => {
    const pub = await publisher();
    const { received, lines } = listen(['jenkins.example.org:8888', pub.endpoint]);
    await pub.waitForSubscribers(1);
    await pub.started(build('node-1'));

    await received.count(1);
    expect(lines.find((l) => l.level === 'error')).toMatchObject({ endpoint: 'jenkins.example.org:8888' });
    expect(received.error).toBeUndefined();
  });
});

describe('closing', () => {
  it('unsubscribing closes every socket: the publishers see their subscribers leave', async () => {
    const east = await publisher();
    const west = await publisher();
    const sockets: Subscriber[] = [];
    const { received } = listen([east.endpoint, west.endpoint], { openSocket: () => remember(sockets, new Subscriber()) });
    await east.waitForSubscribers(1);
    await west.waitForSubscribers(1);

    received.stop();

    expect(sockets).toHaveLength(2);
    expect(sockets.every((s) => s.closed)).toBe(true);
    await east.waitForSubscribersAtMost(0);
    await west.waitForSubscribersAtMost(0);
  });

  it('sockets linger for nothing at close, back off to a second between reconnects and keep TCP alive', async () => {
    const pub = await publisher();
    const sockets: Subscriber[] = [];
    listen([pub.endpoint], { openSocket: () => remember(sockets, new Subscriber()) });
    await pub.waitForSubscribers(1);
    expect(sockets[0]).toMatchObject({ linger: 0, reconnectInterval: 100, reconnectMaxInterval: 1000, tcpKeepalive: 1, tcpKeepaliveIdle: 60 });
  });

  it('a publisher can bind again where a closed one was', async () => {
    const first = await publisher();
    first.close();
    const second = await publisher(first.endpoint);
    expect(second.endpoint).toBe(first.endpoint);
  });
});

describe('following the configuration', () => {
  it('keeps the sockets of endpoints that stay, closes those that go and opens new ones', async () => {
    const east = await publisher();
    const west = await publisher();
    const lists = new Subject<readonly string[]>();
    const sockets: Subscriber[] = [];
    const { received, lines } = listen(lists, { openSocket: () => remember(sockets, new Subscriber()) });

    lists.next([east.endpoint]);
    await east.waitForSubscribers(1);
    lists.next([east.endpoint, west.endpoint]);
    lists.next([west.endpoint, east.endpoint]);
    await west.waitForSubscribers(1);
    expect(sockets).toHaveLength(2);
    expect(sockets.some((s) => s.closed)).toBe(false);

    lists.next([west.endpoint]);
    expect(sockets[0]?.closed).toBe(true);
    await east.waitForSubscribersAtMost(0);
    expect(lines.find((l) => l.msg === 'stopped listening for job events')).toMatchObject({ endpoint: east.endpoint });

    await west.finalized(build('west-1'), 'SUCCESS');
    expect((await received.count(1))[0]).toMatchObject({ nodeName: 'west-1' });
    expect(sockets).toHaveLength(2);
  });

  it('goes on with the last list when the lists end, until unsubscribed', async () => {
    const pub = await publisher();
    const lists = new Subject<readonly string[]>();
    const { received } = listen(lists);
    lists.next([pub.endpoint]);
    lists.complete();
    await pub.waitForSubscribers(1);
    await pub.started(build('node-1'));
    await received.count(1);
  });

  it('an error of the lists closes the sockets and is passed on', async () => {
    const pub = await publisher();
    const lists = new Subject<readonly string[]>();
    const { received } = listen(lists);
    lists.next([pub.endpoint]);
    await pub.waitForSubscribers(1);

    lists.error(new Error('configuration stream broke'));

    expect(received.error).toEqual(new Error('configuration stream broke'));
    await pub.waitForSubscribersAtMost(0);
  });
});

describe('a socket that fails', () => {
  it('is replaced by a new one after a pause, logged once, and events flow again', async () => {
    const pub = await publisher();
    const sockets: Subscriber[] = [];
    const { received, lines } = listen([pub.endpoint], {
      openSocket: () => remember(sockets, sockets.length === 0 ? new FailsAtFirstReceive() : new Subscriber()),
      reopenDelayMs: 20,
    });

    await eventually(() => sockets.length === 2, 'a second socket made');
    await pub.waitForSubscribers(1);
    await pub.started(build('node-1'));

    await received.count(1);
    expect(sockets[0]?.closed).toBe(true);
    expect(lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['the job event socket failed; a new one in 20 ms']);
  });
});

function remember(sockets: Subscriber[], socket: Subscriber): Subscriber {
  sockets.push(socket);
  return socket;
}

/** A socket whose first receive fails as a broken socket would. (Sockets are sealed: the flag lives outside.) */
const failedOnce = new WeakSet<Subscriber>();

class FailsAtFirstReceive extends Subscriber {
  override async receive(): Promise<Buffer[]> {
    if (failedOnce.has(this)) return super.receive();
    failedOnce.add(this);
    throw Object.assign(new Error('Bad address'), { code: 'EFAULT' });
  }
}

describe('a process that stops listening', () => {
  it('exits by itself: no socket or handle is left open', async () => {
    const pub = await publisher();
    const script = await bundleFixture('first-job-event.ts');
    const child = spawn(process.execPath, [script, pub.endpoint], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));

    await pub.waitForSubscribers(1, 15_000);
    await pub.started(build('node-1'));

    const code = await Promise.race([exited, bounded(10_000, 'the process to exit after it unsubscribed')]);
    expect({ code, stderr }).toMatchObject({ code: 0 });
    expect(JSON.parse(stdout)).toMatchObject({ kind: 'started', nodeName: 'node-1' });
    expect(stderr).toContain('stopped listening for job events');
  });
});

/** Rejects after `ms`, naming what was waited for. */
function bounded(ms: number, what: string): Promise<never> {
  return new Promise((_, reject) => {
    const timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms);
    cleanups.push(() => clearTimeout(timer));
  });
}

/**
 * The fixture as one ES module in a temporary directory, for plain node. The
 * native zeromq package stays out of the bundle and is loaded from this
 * project's node_modules by its full path.
 */
async function bundleFixture(name: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'nodepool-events-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const outfile = join(dir, name.replace(/\.ts$/, '.mjs'));
  const requireHere = createRequire(import.meta.url);
  await bundle({
    entryPoints: [fileURLToPath(new URL(`fixtures/${name}`, import.meta.url))],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    plugins: [{
      name: 'native-zeromq',
      setup(b) {
        b.onResolve({ filter: /^zeromq$/ }, () => ({ path: pathToFileURL(requireHere.resolve('zeromq')).href, external: true }));
      },
    }],
  });
  return outfile;
}
