/**
 * A real gearmand on a free loopback port, and the real `gearman` client to
 * queue jobs on it and to register workers (Debian's gearman-job-server and
 * gearman-tools). Every process is ended by its pid: `stop()` in an
 * afterEach/afterAll, and a kill at exit for whatever a failing test left.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gearmanStatus } from '../../src/demand/index.js';
import type { GearmanServerAddress, GearmanStatusRow } from '../../src/demand/index.js';
import { waitFor } from './daemon.js';
import { freeLoopbackPort } from './ssh-server.js';

export const GEARMAND = '/usr/sbin/gearmand';
export const GEARMAN = '/usr/bin/gearman';

/** Processes started here and not yet stopped, killed at exit should a test fail before its stop. */
const running = new Map<ChildProcess, number>();
process.once('exit', () => {
  for (const target of running.values()) signal(target, 'SIGKILL');
});

export interface TestGearmand {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly pid: number;
  readonly address: GearmanServerAddress;
  /** Queues `count` background jobs for `fn` with `gearman -b`; no worker needs to exist. */
  submit(fn: string, count?: number): Promise<void>;
  /** A real `gearman -w` worker registering `fn`, once the server lists it. */
  startWorker(fn: string): Promise<TestGearmanWorker>;
  /** A real worker that takes one job of `fn` and holds it (running) until stopped. */
  startBusyWorker(fn: string): Promise<TestGearmanWorker>;
  /** The server's status rows, by the module under test. */
  status(): Promise<GearmanStatusRow[]>;
  /** The status row of `fn`, or undefined when the server does not list it. */
  row(fn: string): Promise<GearmanStatusRow | undefined>;
  /** SIGTERM by pid, SIGKILL when it does not exit within 10 s. */
  stop(): Promise<void>;
  /** The last lines gearmand logged, for a failing test's report. */
  tail(): string;
}

export interface TestGearmanWorker {
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts gearmand on a free port and waits until it answers `status`. The
 * port is free when picked but another process may take it before gearmand
 * binds; gearmand then retries the bind for about 20 s rather than exiting,
 * so its debug log is read for the retry and a new port is tried at once.
 */
export async function startGearmand(options: { port?: number } = {}): Promise<TestGearmand> {
  const failures: string[] = [];
  // A port asked for is tried once: the test means that server, not any other.
  for (let attempt = 1; attempt <= (options.port === undefined ? 5 : 1); attempt++) {
    const port = options.port ?? await freeLoopbackPort();
    const started = await launch(port);
    if ('server' in started) return started.server;
    failures.push(`port ${port}: ${started.failure}`);
  }
  throw new Error(`gearmand did not start:\n${failures.join('\n')}`);
}

async function launch(port: number): Promise<{ server: TestGearmand } | { failure: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'nodepool-gearmand-'));
  const child = spawn(GEARMAND, [
    '--listen=127.0.0.1', `--port=${port}`, '--threads=1',
    '--log-file=stderr', '--verbose=DEBUG', `--pid-file=${join(dir, 'gearmand.pid')}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (child.pid === undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cannot run ${GEARMAND} (Debian package gearman-job-server)`);
  }
  child.on('error', () => undefined);
  running.set(child, child.pid);
  const log = collectLines(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    await end(child, exited);
    rmSync(dir, { recursive: true, force: true });
  };

  const outcome = await waitFor(`gearmand to listen on 127.0.0.1:${port}`, () => {
    if (child.exitCode !== null || child.signalCode !== null) return `exited (${child.exitCode ?? child.signalCode})`;
    if (log.lines.some((l) => l.includes('Retrying bind'))) return 'the port is taken';
    if (log.lines.some((l) => l.includes(`Listening on 127.0.0.1:${port}`))) return 'listening';
    return undefined;
  }, { timeoutMs: 10_000, intervalMs: 20 }).catch((err: Error) => err.message);
  if (outcome !== 'listening') {
    await stop();
    return { failure: `${outcome}\n${log.tail()}` };
  }

  const address = { host: '127.0.0.1', port };
  try {
    await waitFor(`gearmand on port ${port} to answer status`, () => gearmanStatus(address, { timeoutMs: 1000 }).then(() => true), { timeoutMs: 10_000, intervalMs: 50 });
  } catch (err) {
    await stop();
    throw err;
  }
  const status = () => gearmanStatus(address, { timeoutMs: 2000 });
  const server: TestGearmand = {
    host: '127.0.0.1',
    port,
    pid: child.pid,
    address,
    submit: (fn, count = 1) => submit(port, fn, count),
    startWorker: async (fn) => {
      const worker = startWorker(port, ['-f', fn, '--', 'true'], false);
      return listed(worker, `a worker for ${fn}`, async () => ((await status()).find((r) => r.fn === fn)?.workers ?? 0) > 0);
    },
    startBusyWorker: async (fn) => {
      // Its own process group, so stopping it also ends the `sleep` it runs for the job.
      const worker = startWorker(port, ['-c', '1', '-f', fn, '--', 'sleep', '600'], true);
      return listed(worker, `a running job of ${fn}`, async () => ((await status()).find((r) => r.fn === fn)?.running ?? 0) > 0);
    },
    status,
    row: async (fn) => (await status()).find((r) => r.fn === fn),
    stop,
    tail: () => log.tail(),
  };
  return { server };
}

/** `gearman -b -n`: one background job per line of its input, so one process queues them all. */
function submit(port: number, fn: string, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const client = execFile(GEARMAN, ['-h', '127.0.0.1', '-p', String(port), '-b', '-n', '-f', fn], { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`gearman -b -f ${fn} failed: ${err.message} ${stderr}`));
      else resolve();
    });
    client.stdin?.end(Array.from({ length: count }, (_, i) => `payload ${i + 1}\n`).join(''));
  });
}

function startWorker(port: number, args: string[], ownGroup: boolean): TestGearmanWorker {
  const child = spawn(GEARMAN, ['-h', '127.0.0.1', '-p', String(port), '-w', ...args], { stdio: 'ignore', detached: ownGroup });
  if (child.pid === undefined) throw new Error(`cannot run ${GEARMAN} (Debian package gearman-tools)`);
  child.on('error', () => undefined);
  running.set(child, ownGroup ? -child.pid : child.pid);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { pid: child.pid, stop: () => end(child, exited, ownGroup) };
}

/** The worker once `check` sees it in the server's status; stopped again when it never does. */
async function listed(worker: TestGearmanWorker, what: string, check: () => Promise<boolean>): Promise<TestGearmanWorker> {
  try {
    await waitFor(`gearmand to list ${what}`, check, { timeoutMs: 10_000, intervalMs: 20 });
    return worker;
  } catch (err) {
    await worker.stop();
    throw err;
  }
}

/**
 * Ends a child by its pid, or by its process group's id with `group` (the
 * group also when the child itself is gone: what it ran may still be there):
 * SIGTERM, then SIGKILL after 10 s.
 */
async function end(child: ChildProcess, exited: Promise<void>, group = false): Promise<void> {
  const target = running.get(child);
  const alive = child.exitCode === null && child.signalCode === null;
  if (target !== undefined && (alive || group)) {
    signal(target, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), 10_000); });
    if ((await Promise.race([exited, late])) === 'late') {
      signal(target, 'SIGKILL');
      await exited;
    }
    clearTimeout(timer);
  }
  running.delete(child);
}

/** A signal to one pid; a process that exited meanwhile is not an error. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** The child's stderr as lines; only the last ones are kept (gearmand's debug log is chatty). */
function collectLines(child: ChildProcess): { lines: string[]; tail: () => string } {
  const lines: string[] = [];
  let buffer = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    buffer += chunk;
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  });
  return { lines, tail: () => lines.slice(-20).join('\n') };
}
