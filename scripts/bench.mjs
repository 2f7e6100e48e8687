// The scale benchmark (docs/benchmarks.md, "npm run bench"): nodepoold as a
// real process on the workloads of the upstream comparison (3 providers, 2
// labels, min-ready N/2 each, simulated clouds booting in 0.1 s) and on a
// burst bound by the providers' rate, on SQLite and on MariaDB. It prints,
// beside upstream Nodepool 3.5's figures on this kind of machine: first
// ready, all ready, CPU, peak RSS, idle CPU, `nodepool list` time and the
// reaction to a raised min-ready.
//
//   npm run bench -- [--sizes 50,1000,10000] [--backends sqlite,mariadb] [--no-burst] [--json]
//
// Needs `npm run build` (npm run bench does it). MariaDB at
// NODEPOOL_TEST_MYSQL_URI (default mysql://root@127.0.0.1:3306/); each run
// makes its own database and drops it.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { stringify as stringifyYaml } from 'yaml';
import { openDatabase } from '../dist/src/db/index.js';
import { withScratchDatabase } from './scratch-database.mjs';
import { burstConfig, scaleConfig } from './bench-workloads.mjs';
import { fmt, printTable } from './bench-table.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

// ---- options ------------------------------------------------------------------

function parseArgs(argv) {
  const options = { sizes: [50, 1000, 10000], backends: ['sqlite', 'mariadb'], burst: true, churn: true, churnSeconds: 60, json: false, idleSeconds: 10 };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--sizes') options.sizes = value().split(',').map(Number);
    else if (arg === '--backends') options.backends = value().split(',');
    else if (arg === '--no-burst') options.burst = false;
    else if (arg === '--no-churn') options.churn = false;
    else if (arg === '--churn-seconds') options.churnSeconds = Number(value());
    else if (arg === '--json') options.json = true;
    else if (arg === '--idle-seconds') options.idleSeconds = Number(value());
    else if (arg === '--help' || arg === '-h') {
      console.log('npm run bench -- [--sizes 50,1000,10000] [--backends sqlite,mariadb] [--no-burst] [--no-churn] [--churn-seconds 60] [--idle-seconds 10] [--json]');
      process.exit(0);
    } else throw new Error(`unknown option ${arg}`);
  }
  return options;
}

// ---- workloads ------------------------------------------------------------------

// ---- the daemon as a process ----------------------------------------------------------

/** CPU seconds (user + system) and RSS of a process, from /proc. */
function sample(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { cpu, rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

class Daemon {
  constructor(configFile, logConfig) {
    this.startedAt = performance.now();
    this.child = spawn(join(ROOT, 'bin/nodepoold.js'), ['-d', '-c', configFile, '--no-builder', '--no-webapp', '-l', logConfig], {
      cwd: ROOT,
      env: { ...process.env, NODEPOOL_DBURI: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.ready = new Map();
    this.created = new Map();
    this.lines = 0;
    this.tail = [];
    this.exited = new Promise((r) => this.child.on('exit', (code) => r(code)));
    let buffer = '';
    const take = (chunk) => {
      buffer += chunk.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        this.lines += 1;
        this.tail.push(text);
        if (this.tail.length > 20) this.tail.shift();
        this.onLine(text);
      }
    };
    this.child.stdout.on('data', take);
    this.child.stderr.on('data', take);
  }

  /** Milliseconds since exec, taken when the line arrives. */
  now() {
    return performance.now() - this.startedAt;
  }

  onLine(text) {
    if (text.includes('" is ready"') || text.includes(' is ready"')) {
      const m = /"node":(\d+),"state":"ready"/.exec(text);
      if (m && !this.ready.has(m[1])) this.ready.set(m[1], this.now());
    } else if (text.includes('server created')) {
      const m = /"node":(\d+)/.exec(text);
      if (m && !this.created.has(m[1])) this.created.set(m[1], this.now());
    }
  }

  async until(what, check, timeoutMs) {
    const deadline = performance.now() + timeoutMs;
    while (!check()) {
      if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.tail.join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.now();
  }

  async stop() {
    const t0 = performance.now();
    this.child.kill('SIGTERM');
    const code = await Promise.race([this.exited, new Promise((r) => setTimeout(() => r('timeout'), 60_000))]);
    if (code === 'timeout') this.child.kill('SIGKILL');
    return { seconds: (performance.now() - t0) / 1000, code };
  }
}

async function timeCommand(args) {
  const t0 = performance.now();
  execFileSync(process.execPath, [join(ROOT, 'bin/nodepool.js'), ...args], { cwd: ROOT, maxBuffer: 512 * 1024 * 1024, env: { ...process.env, NODEPOOL_DBURI: undefined } });
  return (performance.now() - t0) / 1000;
}

// ---- one run --------------------------------------------------------------------

function withDatabase(backend, fn) {
  return withScratchDatabase(backend, 'bench', fn);
}

function writeFiles(dir, config) {
  const configFile = join(dir, 'nodepool.yaml');
  const logConfig = join(dir, 'logging.yaml');
  writeFileSync(configFile, stringifyYaml(config));
  // Node states at info; the create of each server at debug (the burst's figures need it).
  writeFileSync(logConfig, 'level: info\nloggers:\n  nodepool.NodePool: debug\n');
  return { configFile, logConfig };
}

async function scaleRun(backend, nodes, options) {
  return withDatabase(backend, async (dir, dburi) => {
    const config = scaleConfig(dburi, nodes);
    const { configFile, logConfig } = writeFiles(dir, config);
    const daemon = new Daemon(configFile, logConfig);
    let peakMb = 0;
    const sampler = setInterval(() => {
      const s = sample(daemon.child.pid);
      if (s) peakMb = Math.max(peakMb, s.peakMb);
    }, 100);
    try {
      const timeoutMs = Math.max(120_000, nodes * 60);
      const firstReady = await daemon.until('the first ready node', () => daemon.ready.size >= 1, timeoutMs);
      const allReady = await daemon.until(`${nodes} ready nodes`, () => daemon.ready.size >= nodes, timeoutMs);
      const atReady = sample(daemon.child.pid);
      // Idle: nothing is due; the CPU the daemon uses anyway.
      await new Promise((r) => setTimeout(r, 2000));
      const idleFrom = sample(daemon.child.pid);
      await new Promise((r) => setTimeout(r, options.idleSeconds * 1000));
      const idleTo = sample(daemon.child.pid);
      const listJson = await timeCommand(['-c', configFile, 'list', '--json']);
      const listTable = await timeCommand(['-c', configFile, 'list']);
      // Reaction: a label's min-ready raised by 5.
      const raised = structuredClone(config);
      raised.labels[0]['min-ready'] += 5;
      const before = daemon.ready.size;
      const t0 = daemon.now();
      writeFileSync(configFile, stringifyYaml(raised));
      const reacted = await daemon.until('5 more ready nodes', () => daemon.ready.size >= before + 5, 60_000);
      const churn = options.churn && nodes === 1000 ? await churnRun(configFile, dburi, nodes + 5, options.churnSeconds) : undefined;
      const stop = await daemon.stop();
      const end = sample(daemon.child.pid);
      return {
        workload: `${nodes} nodes`,
        backend,
        firstReadyS: firstReady / 1000,
        allReadyS: allReady / 1000,
        cpuS: atReady?.cpu,
        peakRssMb: Math.max(peakMb, atReady?.peakMb ?? 0, end?.peakMb ?? 0),
        idleCpuPct: idleFrom && idleTo ? ((idleTo.cpu - idleFrom.cpu) / options.idleSeconds) * 100 : undefined,
        listJsonS: listJson,
        listTableS: listTable,
        reactionS: (reacted - t0) / 1000,
        ...(churn && { churn }),
        stopS: stop.seconds,
        exitCode: stop.code,
      };
    } finally {
      clearInterval(sampler);
      if (daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
    }
  });
}

/**
 * Churn: 100 deletes a second for `seconds`, each made as `nodepool delete`
 * makes it (state and change row in one transaction), oldest ready nodes
 * first; the ready count is sampled every second. Then the time of
 * `nodepool delete ID` as a new process, ten times.
 */
async function churnRun(configFile, dburi, wanted, seconds) {
  const db = await openDatabase(dburi, { migrate: false });
  try {
    const readyCounts = [];
    const t0 = performance.now();
    let deleted = 0;
    for (let second = 0; second < seconds; second += 1) {
      const ready = await db.nodes.list({ state: 'ready' });
      readyCounts.push(ready.length);
      for (const node of ready.slice(0, 100)) {
        await db.transaction(async (tx) => {
          await tx.nodes.setState(node.id, 'delete');
          await tx.changes.append('node', node.id, 'delete');
        });
        deleted += 1;
      }
      const next = t0 + (second + 1) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
    const churnEnd = performance.now();
    let recovered;
    for (;;) {
      const ready = (await db.nodes.list({ state: 'ready' })).length;
      if (ready >= wanted) {
        recovered = (performance.now() - churnEnd) / 1000;
        break;
      }
      if (performance.now() - churnEnd > 120_000) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const deletes = [];
    for (const node of (await db.nodes.list({ state: 'ready' })).slice(0, 10)) deletes.push(await timeCommand(['-c', configFile, 'delete', String(node.id)]));
    deletes.sort((a, b) => a - b);
    return {
      deletesAsked: deleted,
      minReady: Math.min(...readyCounts),
      readyAtEnd: readyCounts[readyCounts.length - 1],
      recoveredS: recovered,
      deleteCommandMedianS: deletes[Math.floor(deletes.length / 2)],
    };
  } finally {
    await db.close();
  }
}

async function burstRun(backend) {
  return withDatabase(backend, async (dir, dburi) => {
    const { configFile, logConfig } = writeFiles(dir, burstConfig(dburi));
    const daemon = new Daemon(configFile, logConfig);
    try {
      await daemon.until('500 ready nodes', () => daemon.ready.size >= 500, 180_000);
      const creates = [...daemon.created.values()].sort((a, b) => a - b);
      const firstCreate = creates[0];
      const lastCreate = creates[creates.length - 1];
      const readies = [...daemon.ready.values()].sort((a, b) => a - b);
      const lags = [...daemon.created.entries()].map(([id, at]) => (daemon.ready.get(id) ?? Infinity) - at);
      const stop = await daemon.stop();
      return {
        workload: 'burst 500 (rate 0.1, boot 1 s)',
        backend,
        firstCreateS: firstCreate / 1000,
        firstReadyAfterFirstCreateS: (readies[0] - firstCreate) / 1000,
        worstReadyAfterCreateS: Math.max(...lags) / 1000,
        medianReadyAfterCreateS: lags.sort((a, b) => a - b)[Math.floor(lags.length / 2)] / 1000,
        // The rate bound allows one create every 0.1 s from the daemon's start.
        createsOfRateBoundPct: (500 / (lastCreate / 100)) * 100,
        allReadyS: readies[readies.length - 1] / 1000,
        stopS: stop.seconds,
      };
    } finally {
      if (daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
    }
  });
}

// ---- the table -----------------------------------------------------------------------

const UPSTREAM = {
  '50 nodes': { firstReadyS: '1.2–1.3', allReadyS: '2.3–2.6' },
  '1000 nodes': { firstReadyS: '4.1–4.2', allReadyS: '25.5', cpuS: '19.9 + 13.7 (ZooKeeper)', peakRssMb: '135', idleCpuPct: '10–11.6', listTableS: '4.6–5.4' },
  '10000 nodes': {},
};

function printScale(results) {
  const columns = [
    ['first ready s', 'firstReadyS'],
    ['all ready s', 'allReadyS'],
    ['CPU s', 'cpuS'],
    ['peak RSS MB', 'peakRssMb', 0],
    ['idle CPU %', 'idleCpuPct', 1],
    ['list --json s', 'listJsonS'],
    ['list s', 'listTableS'],
    ['+5 min-ready s', 'reactionS'],
    ['SIGTERM s', 'stopS'],
  ];
  const header = ['workload', 'backend', ...columns.map(([title]) => title)];
  const rows = [];
  for (const r of results) {
    rows.push([r.workload, r.backend, ...columns.map(([, key, d]) => fmt(r[key], d))]);
    if (r.failed) rows.push(['', `  failed: ${r.failed}`, ...columns.map(() => '')]);
  }
  for (const [workload, figures] of Object.entries(UPSTREAM)) {
    if (!results.some((r) => r.workload === workload) || Object.keys(figures).length === 0) continue;
    rows.push([workload, 'upstream 3.5', ...columns.map(([, key]) => figures[key] ?? '—')]);
  }
  printTable(header, rows.sort((a, b) => parseInt(a[0], 10) - parseInt(b[0], 10)));
}

function printChurn(results) {
  const rows = results.filter((r) => r.churn).map((r) => [r.workload, r.backend, String(r.churn.deletesAsked), String(r.churn.minReady), String(r.churn.readyAtEnd), fmt(r.churn.recoveredS), fmt(r.churn.deleteCommandMedianS, 3)]);
  if (rows.length === 0) return;
  printTable(['churn: 100 deletes/s for 60 s', 'backend', 'deletes', 'lowest ready', 'ready at the end', 'back to all ready s', '`nodepool delete` median s'], rows);
}

function printBurst(results) {
  const header = ['workload', 'backend', 'first create s', 'first ready after 1st create s', 'median ready after create s', 'worst ready after create s', 'creates % of rate bound', 'all ready s'];
  printTable(header, results.map((r) => [r.workload, r.failed ? `${r.backend} (failed: ${r.failed})` : r.backend, fmt(r.firstCreateS), fmt(r.firstReadyAfterFirstCreateS), fmt(r.medianReadyAfterCreateS), fmt(r.worstReadyAfterCreateS), fmt(r.createsOfRateBoundPct, 1), fmt(r.allReadyS)]));
}

// ---- main -----------------------------------------------------------------------------

/** A run that fails (a wait past its bound) is reported as failed, with why, and the others go on. */
async function attempt(what, run, blank) {
  process.stderr.write(`bench: ${what}...\n`);
  try {
    const result = await run();
    process.stderr.write(`bench: ${what}: ${JSON.stringify(result)}\n`);
    return result;
  } catch (err) {
    const reason = String(err.message ?? err).split('\n')[0];
    process.stderr.write(`bench: ${what} failed: ${reason}\n`);
    return { ...blank, failed: reason };
  }
}

const options = parseArgs(process.argv.slice(2));
const scale = [];
const burst = [];
for (const backend of options.backends) {
  for (const nodes of options.sizes) {
    scale.push(await attempt(`${nodes} nodes on ${backend}`, () => scaleRun(backend, nodes, options), { workload: `${nodes} nodes`, backend }));
  }
  if (options.burst) {
    burst.push(await attempt(`the burst on ${backend}`, () => burstRun(backend), { workload: 'burst 500 (rate 0.1, boot 1 s)', backend }));
  }
}
if (options.json) {
  console.log(JSON.stringify({ scale, burst }, null, 2));
} else {
  printScale(scale);
  printChurn(scale);
  if (burst.length) printBurst(burst);
}
