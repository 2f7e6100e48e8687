#!/usr/bin/env node
// Measures nodepoold launching and replacing nodes on the embedded default's
// kind of setup: SQLite in a temporary directory and `driver: fake` clouds
// with the latencies and rate of config/nodepool.yaml, nodepoold's actor host run in this
// process on the real clock.
//
// Build first, then:   npm run build && node scripts/bench-launch.mjs [--runs N] [--json] [--keep]
// See docs/benchmarks.md for what each figure means.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { loadConfig, formatProblem } from '../dist/src/config/index.js';
import { openDatabase } from '../dist/src/db/index.js';
import { Logging } from '../dist/src/log/index.js';
import { closeFakeClouds, fakeCloudFor, FAKE_OPERATIONS } from '../dist/src/drivers/fake/index.js';
import { ActorHost } from '../dist/src/actors/host.js';
import { Nodepoold } from '../dist/src/nodepoold/nodepoold.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---- options ---------------------------------------------------------------

const USAGE = 'usage: node scripts/bench-launch.mjs [--runs N] [--replace K] [--idle SECONDS] [--timeout SECONDS] [--json] [--keep]';
const options = { runs: 3, replace: 10, idleS: 5, timeoutS: 120, json: false, keep: false };
{
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const count = (name) => {
      const value = Number(args[++i]);
      if (!Number.isInteger(value) || value < 1) fail(`${name} needs a whole number of at least 1\n${USAGE}`);
      return value;
    };
    if (arg === '--runs') options.runs = count('--runs');
    else if (arg === '--replace') options.replace = count('--replace');
    else if (arg === '--timeout') options.timeoutS = count('--timeout');
    else if (arg === '--idle') options.idleS = count('--idle');
    else if (arg === '--json') options.json = true;
    else if (arg === '--keep') options.keep = true;
    else if (arg === '-h' || arg === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown argument ${arg}\n${USAGE}`);
  }
}

function fail(message) {
  console.error(`bench-launch: ${message}`);
  process.exit(2);
}

// ---- the setup -------------------------------------------------------------

const PROVIDERS = ['fake-a', 'fake-b'];
const MIN_READY = 5;
const MAX_SERVERS = 15;
const POLL_MS = 50;

/**
 * config/nodepool.yaml with its providers doubled and its two labels made
 * per provider, so that 2 providers x 2 labels x min-ready 5 = 20 ready
 * nodes; every path inside the temporary directory.
 */
function benchConfig(dir) {
  const base = parseYaml(readFileSync(join(ROOT, 'config/nodepool.yaml'), 'utf8'), { version: '1.1' });
  const [template] = base.providers;
  const providers = PROVIDERS.map((name) => ({
    ...template,
    name,
    'max-servers': MAX_SERVERS,
    fake: { ...template.fake, 'state-file': join(dir, `${name}.json`) },
  }));
  const labels = PROVIDERS.flatMap((provider) =>
    base.labels.map((label) => ({ ...label, name: `${label.name}-${provider}`, 'min-ready': MIN_READY, providers: [{ name: provider }] })),
  );
  return {
    ...base,
    dburi: `sqlite://${join(dir, 'nodepool.db')}`,
    'images-dir': join(dir, 'images'),
    'elements-dir': join(ROOT, 'config/elements'),
    labels,
    providers,
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
});

/** Polls `probe` every POLL_MS until it returns true; throws after the timeout with `describe()`'s account. */
async function waitUntil(what, probe, describe) {
  const deadline = performance.now() + options.timeoutS * 1000;
  for (;;) {
    if (await probe()) return performance.now();
    if (interrupted) throw new Error(`interrupted while waiting for ${what}`);
    if (performance.now() > deadline) {
      throw new Error(`${what}: not reached within ${options.timeoutS} s; now ${await describe()}`);
    }
    await sleep(POLL_MS);
  }
}

function countsByState(rows) {
  const counts = {};
  for (const row of rows) counts[row.state] = (counts[row.state] ?? 0) + 1;
  return counts;
}

const describeNodes = (db) => async () => JSON.stringify(countsByState(await db.nodes.list()));

function cloudsOf(config) {
  return PROVIDERS.map((name) => {
    const provider = config.providers.find((p) => p.name === name);
    if (!provider) throw new Error(`provider ${name} is not in the benchmark's configuration`);
    return fakeCloudFor(provider);
  });
}

/** Calls per operation summed over the clouds. */
function cloudCalls(clouds) {
  const sum = Object.fromEntries(FAKE_OPERATIONS.map((op) => [op, 0]));
  for (const cloud of clouds) for (const op of FAKE_OPERATIONS) sum[op] += cloud.calls[op];
  return sum;
}

/** Calls started by the providers' gateways, per operation (these counters are never reset). */
function queueCalls(host) {
  const sum = {};
  for (const name of PROVIDERS) {
    for (const [op, n] of host.gateways.get(name)?.calls ?? []) sum[op] = (sum[op] ?? 0) + n;
  }
  return sum;
}

function diff(after, before) {
  return Object.fromEntries(Object.entries(after).map(([op, n]) => [op, n - (before[op] ?? 0)]));
}

const mb = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;

// ---- one run ---------------------------------------------------------------

async function run(index) {
  const dir = mkdtempSync(join(tmpdir(), 'nodepool-bench-launch-'));
  const logFile = join(dir, 'nodepoold.log');
  const configFile = join(dir, 'nodepool.yaml');
  writeFileSync(configFile, stringifyYaml(benchConfig(dir)));
  let pool;
  let db;
  let observer;
  try {
    const loaded = loadConfig(configFile);
    if (!loaded.config) throw new Error(`the benchmark's configuration is invalid:\n${loaded.problems.map(formatProblem).join('\n')}`);
    const config = loaded.config;
    const logging = new Logging({ level: 'info', loggers: {}, destination: logFile });
    db = await openDatabase(config.dburi);
    // The commands' view: a second connection to the same file, as `nodepool list` / `nodepool delete` would have.
    observer = await openDatabase(config.dburi, { migrate: false });
    const target = config.labels.length * MIN_READY;

    // 1. start -> min-ready
    pool = new ActorHost({ configFile, config, db, logging });
    pool.add(new Nodepoold(pool));
    const t0 = performance.now();
    await pool.start();
    const startedAt = performance.now();
    const clouds = cloudsOf(config);
    let firstReady;
    let mostRows = 0;
    const readyAt = await waitUntil(
      `${target} ready nodes`,
      async () => {
        const rows = await observer.nodes.list();
        mostRows = Math.max(mostRows, rows.length);
        const ready = rows.filter((r) => r.state === 'ready').length;
        if (ready > 0 && firstReady === undefined) firstReady = performance.now();
        return ready >= target;
      },
      describeNodes(observer),
    );
    // With `node --expose-gc`, heap used is measured after a full collection (live objects only).
    globalThis.gc?.();
    const memory = process.memoryUsage();
    const fillCalls = cloudCalls(clouds);
    const fillQueueCalls = queueCalls(pool);
    const fillSeconds = (readyAt - t0) / 1000;

    // 2. idle: min-ready is met and nothing changes; what does the cloud still hear?
    for (const cloud of clouds) cloud.resetCalls();
    const i0 = performance.now();
    await sleep(options.idleS * 1000);
    const idleSeconds = (performance.now() - i0) / 1000;
    const idleCalls = cloudCalls(clouds);
    const idleRows = await observer.nodes.list();

    // 3. delete K ready nodes the way `nodepool delete` does; wait for K replacements and the rows' removal
    const ready = await observer.nodes.list({ state: 'ready' });
    const victims = pickEvenly(ready, options.replace);
    if (victims.length < options.replace) throw new Error(`only ${victims.length} ready nodes to delete, wanted ${options.replace}`);
    const victimIds = new Set(victims.map((n) => n.id));
    const queueBefore = queueCalls(pool);
    for (const cloud of clouds) cloud.resetCalls();
    const r0 = performance.now();
    for (const node of victims) {
      await observer.transaction(async (tx) => {
        await tx.nodes.setState(node.id, 'delete');
        await tx.changes.append('node', node.id, 'delete');
      });
    }
    let maxRowsDuringReplace = 0;
    const replacedAt = await waitUntil(
      `${options.replace} deleted nodes gone and ${target} ready again`,
      async () => {
        const rows = await observer.nodes.list();
        maxRowsDuringReplace = Math.max(maxRowsDuringReplace, rows.length);
        const left = rows.filter((r) => victimIds.has(r.id)).length;
        const readyNow = rows.filter((r) => r.state === 'ready' && !victimIds.has(r.id)).length;
        return left === 0 && readyNow >= target;
      },
      describeNodes(observer),
    );
    const replaceSeconds = (replacedAt - r0) / 1000;
    const replaceCalls = cloudCalls(clouds);
    const replaceQueueCalls = diff(queueCalls(pool), queueBefore);
    const rowsAfter = await observer.nodes.list();

    return {
      run: index + 1,
      startSeconds: (startedAt - t0) / 1000,
      firstReadySeconds: (firstReady - t0) / 1000,
      minReadySeconds: fillSeconds,
      mostRowsWhileFilling: mostRows,
      idle: { seconds: idleSeconds, cloudCalls: idleCalls, rows: countsByState(idleRows) },
      fill: { nodes: target, seconds: fillSeconds, cloudCalls: fillCalls, queueCalls: fillQueueCalls },
      replace: {
        nodes: options.replace,
        seconds: replaceSeconds,
        cloudCalls: replaceCalls,
        queueCalls: replaceQueueCalls,
        mostRows: maxRowsDuringReplace,
        rowsAfter: countsByState(rowsAfter),
      },
      memory: { rssMB: mb(memory.rss), heapUsedMB: mb(memory.heapUsed), heapTotalMB: mb(memory.heapTotal) },
    };
  } catch (err) {
    err.logFile = logFile;
    err.logTail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n') : '(no log)';
    throw err;
  } finally {
    await pool?.stop().catch((err) => console.error(`bench-launch: stopping nodepoold's host failed: ${err.message}`));
    await observer?.close().catch(() => {});
    await db?.close().catch(() => {});
    await closeFakeClouds().catch(() => {});
    if (options.keep) console.error(`bench-launch: run ${index + 1} kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** K ready nodes taken round robin over (provider, label), so every provider replaces its share. */
function pickEvenly(rows, k) {
  const groups = new Map();
  for (const row of rows) {
    const key = `${row.provider}/${row.label}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(row);
  }
  const picked = [];
  const queues = [...groups.values()];
  while (picked.length < k && queues.some((q) => q.length)) {
    for (const q of queues) if (q.length && picked.length < k) picked.push(q.shift());
  }
  return picked;
}

// ---- report ----------------------------------------------------------------

const PER_NODE = ['createServer', 'deleteServer', 'deleteFloatingIp'];
const SHARED = ['listServers', 'listFlavors', 'listImages', 'getQuota', 'listFloatingIps'];

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1) };
}

function phaseFigures(results, phase) {
  const nodes = results.reduce((s, r) => s + r[phase].nodes, 0);
  const seconds = results.reduce((s, r) => s + r[phase].seconds, 0);
  const total = Object.fromEntries(FAKE_OPERATIONS.map((op) => [op, results.reduce((s, r) => s + r[phase].cloudCalls[op], 0)]));
  const perNode = Object.fromEntries(FAKE_OPERATIONS.map((op) => [op, total[op] / nodes]));
  const perSecond = Object.fromEntries(FAKE_OPERATIONS.map((op) => [op, total[op] / seconds]));
  const sum = (ops, of) => ops.reduce((s, op) => s + of[op], 0);
  return {
    nodes,
    seconds,
    total,
    perNode,
    perSecond,
    perNodeCalls: sum(PER_NODE, perNode),
    sharedCallsPerNode: sum(SHARED, perNode),
    sharedCallsPerSecond: sum(SHARED, perSecond),
    allCalls: sum(FAKE_OPERATIONS, total),
  };
}

function idleFigures(results) {
  const seconds = results.reduce((s, r) => s + r.idle.seconds, 0);
  const total = Object.fromEntries(FAKE_OPERATIONS.map((op) => [op, results.reduce((s, r) => s + r.idle.cloudCalls[op], 0)]));
  const all = FAKE_OPERATIONS.reduce((s, op) => s + total[op], 0);
  return { seconds, total, callsPerSecond: all / seconds };
}

function summary(results) {
  return {
    setup: {
      providers: PROVIDERS.length,
      labelsPerProvider: 2,
      minReady: MIN_READY,
      readyNodes: results[0].fill.nodes,
      maxServersPerProvider: MAX_SERVERS,
      from: 'config/nodepool.yaml (fake latencies and rate as there)',
      replaced: options.replace,
      runs: results.length,
    },
    seconds: {
      poolStart: stats(results.map((r) => r.startSeconds)),
      firstReady: stats(results.map((r) => r.firstReadySeconds)),
      minReady: stats(results.map((r) => r.minReadySeconds)),
      replace: stats(results.map((r) => r.replace.seconds)),
    },
    calls: { fill: phaseFigures(results, 'fill'), replace: phaseFigures(results, 'replace'), idle: idleFigures(results) },
    memory: results.map((r) => ({ run: r.run, ...r.memory })),
    runs: results,
  };
}

function printTable(s) {
  const f = (n, d = 2) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(d));
  const pad = (text, width) => String(text).padEnd(width);
  const lpad = (text, width) => String(text).padStart(width);
  const { setup } = s;
  const tmpl = parseYaml(readFileSync(join(ROOT, 'config/nodepool.yaml'), 'utf8')).providers[0];
  console.log(
    `nodepoold launch benchmark: ${setup.providers} providers x ${setup.labelsPerProvider} labels x min-ready ${setup.minReady} = ` +
      `${setup.readyNodes} ready nodes, max-servers ${setup.maxServersPerProvider}; fake latency create ${tmpl.fake.latency.create} s, ` +
      `active ${tmpl.fake.latency.active} s, delete ${tmpl.fake.latency.delete} s; rate ${tmpl.rate} s; SQLite; ${setup.runs} run(s)`,
  );
  console.log('');
  console.log(`${pad('seconds', 44)}${lpad('min', 8)}${lpad('median', 8)}${lpad('max', 8)}`);
  const row = (label, st) => console.log(`${pad(label, 44)}${lpad(f(st.min), 8)}${lpad(f(st.median), 8)}${lpad(f(st.max), 8)}`);
  row("the host's start() returns", s.seconds.poolStart);
  row('start -> first node ready', s.seconds.firstReady);
  row(`start -> ${setup.readyNodes} nodes ready`, s.seconds.minReady);
  row(`delete ${setup.replaced} -> gone and ${setup.readyNodes} ready again`, s.seconds.replace);
  console.log('');

  const { fill, replace } = s.calls;
  console.log(`cloud API calls (summed over ${setup.runs} run(s))`);
  console.log(
    `${pad('operation', 20)}${lpad('fill: total', 12)}${lpad('per node', 10)}${lpad('replace: total', 16)}${lpad('per node', 10)}${lpad('per s', 8)}`,
  );
  const opRow = (op) =>
    console.log(
      `${pad(`  ${op}`, 20)}${lpad(fill.total[op], 12)}${lpad(f(fill.perNode[op]), 10)}${lpad(replace.total[op], 16)}${lpad(f(replace.perNode[op]), 10)}${lpad(f(replace.perSecond[op]), 8)}`,
    );
  const shown = (ops) => ops.filter((op) => fill.total[op] || replace.total[op] || op === 'createServer' || op === 'deleteServer' || op === 'listServers');
  console.log('per node');
  for (const op of shown(PER_NODE)) opRow(op);
  console.log('shared');
  for (const op of shown(SHARED)) opRow(op);
  const others = FAKE_OPERATIONS.filter((op) => !PER_NODE.includes(op) && !SHARED.includes(op) && (fill.total[op] || replace.total[op]));
  if (others.length) {
    console.log('other');
    for (const op of others) opRow(op);
  }
  console.log(
    `${pad('per-node calls', 20)}${lpad('', 12)}${lpad(f(fill.perNodeCalls), 10)}${lpad('', 16)}${lpad(f(replace.perNodeCalls), 10)}`,
  );
  console.log(
    `${pad('shared calls', 20)}${lpad('', 12)}${lpad(f(fill.sharedCallsPerNode), 10)}${lpad('', 16)}${lpad(f(replace.sharedCallsPerNode), 10)}${lpad(f(replace.sharedCallsPerSecond), 8)}`,
  );
  console.log(
    `${pad('all calls', 20)}${lpad(fill.allCalls, 12)}${lpad(f(fill.allCalls / fill.nodes), 10)}${lpad(replace.allCalls, 16)}${lpad(f(replace.allCalls / replace.nodes), 10)}${lpad(f(replace.allCalls / replace.seconds), 8)}`,
  );
  console.log(
    `(fill: ${fill.nodes} nodes in ${f(fill.seconds, 1)} s; replace: ${replace.nodes} nodes deleted and replaced in ${f(replace.seconds, 1)} s)`,
  );
  const { idle } = s.calls;
  const idleOps = FAKE_OPERATIONS.filter((op) => idle.total[op]).map((op) => `${op} ${idle.total[op]}`).join(', ') || 'none';
  console.log(
    `idle after min-ready: ${f(idle.callsPerSecond)} calls/s over ${f(idle.seconds, 1)} s (${idleOps}), both providers together`,
  );
  console.log('');
  console.log('memory after min-ready (whole process)');
  for (const m of s.memory) console.log(`  run ${m.run}: rss ${f(m.rssMB, 1)} MB, heap used ${f(m.heapUsedMB, 1)} MB (of ${f(m.heapTotalMB, 1)} MB)`);
  const odd = s.runs.filter((r) => r.mostRowsWhileFilling > r.fill.nodes || r.idle.rows.ready !== r.fill.nodes || Object.keys(r.replace.rowsAfter).join() !== 'ready' || r.replace.rowsAfter.ready !== r.fill.nodes);
  for (const r of odd) {
    console.log(`note: run ${r.run}: at most ${r.mostRowsWhileFilling} node rows while filling; rows after the replacement ${JSON.stringify(r.replace.rowsAfter)}`);
  }
}

// ---- main ------------------------------------------------------------------

let exitCode = 0;
try {
  const results = [];
  for (let i = 0; i < options.runs; i++) {
    if (!options.json) process.stderr.write(`run ${i + 1}/${options.runs}...\n`);
    results.push(await run(i));
  }
  const s = summary(results);
  if (options.json) console.log(JSON.stringify(s, null, 2));
  else printTable(s);
} catch (err) {
  exitCode = 1;
  console.error(`bench-launch: ${err.message}`);
  if (err.logTail) {
    const where = options.keep ? err.logFile : `${err.logFile}, removed; --keep keeps it`;
    console.error(`last lines of nodepoold's log (${where}):\n${err.logTail}`);
  }
}
process.exitCode = exitCode;
// Everything was stopped and closed: the process should end by itself. If a handle keeps it alive, say so and end it.
setTimeout(() => {
  const handles = process._getActiveHandles?.().map((h) => h?.constructor?.name) ?? [];
  console.error(`bench-launch: still running 5 s after cleanup (active handles: ${handles.join(', ')}); exiting`);
  process.exit(exitCode);
}, 5000).unref();
