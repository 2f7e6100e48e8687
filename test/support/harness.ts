/**
 * nodepoold and the builder in the test's own process: the real actor host,
 * workloads, gateways and persistence on SQLite or MariaDB, over simulated
 * clouds, with time on XState's SimulatedClock. A launch timeout of an hour
 * is tested in milliseconds: `until` moves the clock a step at a time and
 * lets the database work between steps, until the condition holds (or a
 * simulated and a real bound pass).
 *
 * `clock: 'real'` runs the same host on real time (uploads of real files,
 * the OpenStack simulator over HTTP).
 */
import { afterEach, beforeAll } from 'vitest';
import { SimulatedClock } from 'xstate';
import { ActorHost } from '../../src/actors/host.js';
import { ImageBuilder, type ImageBuilderOptions } from '../../src/builder/index.js';
import { diffConfig, loadConfigOrThrow, type NodepoolConfig } from '../../src/config/index.js';
import { systemClock, type Clock } from '../../src/core/clock.js';
import type { Database } from '../../src/db/index.js';
import { closeFakeClouds } from '../../src/drivers/fake/index.js';
import { Logging } from '../../src/log/index.js';
import { Nodepoold, type NodepooldOptions } from '../../src/nodepoold/nodepoold.js';
import { writeConfigFile } from './config-files.js';
import { clearAll, type TestBackend } from './databases.js';

export interface LogLine {
  level: string;
  name: string;
  msg: string;
  [key: string]: unknown;
}

export interface HarnessOptions {
  db: Database;
  /** The directory the configuration file is written to (reloads rewrite it). */
  dir: string;
  config: Record<string, unknown>;
  clock?: 'simulated' | 'real';
  /** Start time of the simulated clock. */
  startAt?: number;
  /** nodepoold's workload, unless false. */
  nodepoold?: NodepooldOptions | false;
  /** A builder's workload, when given. */
  builder?: ImageBuilderOptions;
  /** How often the file is re-read (default 60 s of the host's clock). */
  configReadMs?: number;
  changePollMs?: number;
}

export interface Harness {
  host: ActorHost;
  db: Database;
  clock: Clock;
  /** Set when the clock is simulated. */
  simulated?: SimulatedClock;
  nodepoold?: Nodepoold;
  builder?: ImageBuilder;
  configFile: string;
  lines: LogLine[];
  /** Log lines whose message matches. */
  logged(match: RegExp | ((line: LogLine) => boolean)): LogLine[];
  /** Moves simulated time (real time: waits for I/O) until `check` holds; throws with the last log lines past the bounds. */
  until<T>(what: string, check: () => Promise<T | undefined | false | null> | T | undefined | false | null, bounds?: UntilBounds): Promise<T>;
  /** Moves time until `promise` settles (a call that waits on the simulated clock), and returns what it gave. */
  settle<T>(what: string, promise: Promise<T>, bounds?: UntilBounds): Promise<T>;
  /** Moves simulated time by `ms` in steps, letting the database work between them. */
  advance(ms: number, stepMs?: number): Promise<void>;
  /** Writes a new configuration file; the host reads it at its next interval, or at once with `apply`. */
  rewrite(config: Record<string, unknown>, options?: { apply?: boolean }): void;
  stop(): Promise<void>;
}

export interface UntilBounds {
  /** Simulated time moved per step. Default 500 ms. */
  stepMs?: number;
  /** Most simulated time to move. Default 30 min. */
  simulatedMs?: number;
  /** Most real time to take. Default 20 s. */
  realMs?: number;
}

const running: Harness[] = [];

/** Stops every harness a test left running (call from afterEach). */
export async function stopHarnesses(): Promise<void> {
  for (const harness of running.splice(0).reverse()) await harness.stop();
  await closeFakeClouds();
}

/** Lets the promises and the database catch up between two steps of simulated time. */
async function ioTurn(host: ActorHost): Promise<void> {
  await host.flush();
  await new Promise((resolve) => setTimeout(resolve, 2));
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const simulated = options.clock === 'real' ? undefined : new SimulatedClock();
  simulated?.set(options.startAt ?? Date.parse('2026-01-01T00:00:00Z'));
  const clock: Clock = simulated ?? systemClock;
  const lines: LogLine[] = [];
  const logging = new Logging(
    { level: 'debug', destination: 'stderr', loggers: { 'nodepool.image.build': 'warn' } },
    { stream: { write: (text: string) => void lines.push(JSON.parse(text) as LogLine) } },
  );
  const configFile = writeConfigFile(options.dir, options.config);
  let config: NodepoolConfig = loadConfigOrThrow(configFile);
  const host = new ActorHost({
    db: options.db,
    logging,
    config,
    clock,
    configFile,
    configReadMs: options.configReadMs ?? 60_000,
    changePollMs: options.changePollMs ?? 500,
  });
  const nodepoold = options.nodepoold === false ? undefined : new Nodepoold(host, { tickMs: 500, ...options.nodepoold });
  const builder = options.builder && new ImageBuilder(host, { hostname: 'builder-host', ...options.builder });
  if (nodepoold) host.add(nodepoold);
  if (builder) host.add(builder);

  const tail = () => lines.slice(-30).map((l) => `${l.level} ${l.name}: ${l.msg}`).join('\n');
  let stopped = false;
  const harness: Harness = {
    host,
    db: options.db,
    clock,
    ...(simulated && { simulated }),
    ...(nodepoold && { nodepoold }),
    ...(builder && { builder }),
    configFile,
    lines,
    logged: (match) => lines.filter((l) => (typeof match === 'function' ? match(l) : match.test(l.msg))),
    async until(what, check, bounds = {}) {
      const stepMs = bounds.stepMs ?? 500;
      const simulatedEnd = clock.now() + (bounds.simulatedMs ?? 30 * 60_000);
      const realEnd = Date.now() + (bounds.realMs ?? 20_000);
      for (;;) {
        const value = await check();
        if (value) return value;
        if (Date.now() > realEnd || clock.now() > simulatedEnd) {
          throw new Error(`gave up waiting for ${what} (simulated ${Math.round((clock.now() - (simulatedEnd - (bounds.simulatedMs ?? 1_800_000))) / 1000)} s)\n${tail()}`);
        }
        simulated?.increment(stepMs);
        await ioTurn(host);
      }
    },
    async settle<T>(what: string, promise: Promise<T>, bounds?: UntilBounds): Promise<T> {
      let outcome: { value: T } | { error: unknown } | undefined;
      promise.then((value) => (outcome = { value }), (error: unknown) => (outcome = { error }));
      await harness.until(what, () => outcome !== undefined, bounds);
      if (outcome && 'error' in outcome) throw outcome.error;
      return (outcome as { value: T }).value;
    },
    async advance(ms, stepMs = 500) {
      if (!simulated) throw new Error('advance() needs the simulated clock');
      for (let left = ms; left > 0; left -= stepMs) {
        simulated.increment(Math.min(stepMs, left));
        await ioTurn(host);
      }
    },
    rewrite(next, { apply = false } = {}) {
      writeConfigFile(options.dir, next);
      if (!apply) return;
      const previous = config;
      config = loadConfigOrThrow(configFile);
      host.reconfigure({ config, previous, diff: diffConfig(previous, config) });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await host.stop();
    },
  };
  running.push(harness);
  await host.start();
  return harness;
}

/**
 * The suite's database for harness tests on one backend: opened before the
 * first test; after each, the harnesses are stopped and every row removed.
 * Call inside `describeEachBackend`; read the database inside tests.
 */
export function harnessDatabase(backend: TestBackend): () => Database {
  let db: Database | undefined;
  beforeAll(async () => {
    db = await backend.open();
  });
  afterEach(async () => {
    await stopHarnesses();
    if (db) await clearAll(db);
  });
  return () => {
    if (!db) throw new Error('the database is opened before the first test');
    return db;
  };
}
