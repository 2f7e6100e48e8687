// The status web server benchmark (docs/benchmarks.md, "npm run bench:web"):
// nodepoold as a real process, with its web server on 127.0.0.1 and a free
// port, on the scale workload of scripts/bench.mjs (3 providers, 10 at
// 10,000 nodes, 2 labels, min-ready N/2 each, simulated clouds booting in
// 0.1 s). Once N nodes are ready it times, over one kept-alive connection
// pool: /node-list.json and /node-list sequentially, at concurrency 10, and
// "cold" (1.2 s after the last request, past the page's 1 s cache); and
// /metrics, 50 ms apart, with the daemon's CPU time per scrape.
//
//   npm run bench:web -- [--sizes 1000,10000] [--backends sqlite,mariadb] [--json]
//
// Needs `npm run build` (npm run bench:web does it). MariaDB at
// NODEPOOL_TEST_MYSQL_URI (default mysql://root@127.0.0.1:3306/); each run
// makes its own database and drops it. All traffic stays on 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { withScratchDatabase } from './scratch-database.mjs';
import { scaleConfig } from './bench-workloads.mjs';
import { WebDaemon, wasInterrupted } from './bench-daemon.mjs';
import { fmt, printTable } from './bench-table.mjs';

const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- options ------------------------------------------------------------------

function parseArgs(argv) {
  const options = { sizes: [1000, 10000], backends: ['sqlite', 'mariadb'], json: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--sizes') options.sizes = value().split(',').map(Number);
    else if (arg === '--backends') options.backends = value().split(',');
    else if (arg === '--json') options.json = true;
    else if (arg === '--help' || arg === '-h') {
      console.log('npm run bench:web -- [--sizes 1000,10000] [--backends sqlite,mariadb] [--json]');
      process.exit(0);
    } else throw new Error(`unknown option ${arg}`);
  }
  for (const n of options.sizes) if (!Number.isInteger(n) || n <= 0 || n % 2) throw new Error(`--sizes: ${n} is not an even positive whole number`);
  for (const b of options.backends) if (b !== 'sqlite' && b !== 'mariadb') throw new Error(`--backends: ${b} is not sqlite or mariadb`);
  return options;
}

// ---- the workload: scripts/bench.mjs's scale runs, with the web server on -----------

/** The scale workload of scripts/bench.mjs, with the web server on a free port. */
function webConfig(dburi, nodes) {
  return { ...scaleConfig(dburi, nodes), webapp: { listen: '127.0.0.1', port: 0 } };
}

// ---- the daemon as a process ----------------------------------------------------------

/** CPU milliseconds (user + system) of a process, from /proc/PID/stat. */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / TICKS) * 1000;
}

// ---- HTTP ---------------------------------------------------------------------------

/** One GET over `agent`: status, body size in bytes, milliseconds from the request to the body's last byte. */
function get(agent, port, path, keepBody = false) {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent }, (res) => {
      let bytes = 0;
      const chunks = [];
      res.on('data', (chunk) => {
        bytes += chunk.length;
        if (keepBody) chunks.push(chunk);
      });
      res.on('end', () => done({ status: res.statusCode, bytes, ms: performance.now() - t0, ...(keepBody && { body: Buffer.concat(chunks).toString() }) }));
      res.on('error', fail);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`GET ${path}: no answer in 60 s`)));
    req.on('error', fail);
    req.end();
  });
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];

function summary(samples) {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const bad = samples.filter((s) => s.status !== 200);
  return {
    requests: samples.length,
    p50Ms: quantile(ms, 0.5),
    p90Ms: quantile(ms, 0.9),
    p99Ms: quantile(ms, 0.99),
    maxMs: ms[ms.length - 1],
    bytes: samples[samples.length - 1]?.bytes,
    ...(bad.length && { non200: bad.length }),
  };
}

async function sequential(agent, port, path, count, pauseMs = 0) {
  const samples = [];
  for (let i = 0; i < count; i += 1) {
    samples.push(await get(agent, port, path));
    if (pauseMs) await sleep(pauseMs);
  }
  return samples;
}

async function concurrent(agent, port, path, count, concurrency) {
  const samples = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      samples.push(await get(agent, port, path));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return samples;
}

/** `samples` requests, each 1.2 s after the one before: past the 1 s cache, so each reads the database. */
async function cold(agent, port, path, samples) {
  const taken = [];
  for (let i = 0; i < samples; i += 1) {
    await sleep(1200);
    taken.push(await get(agent, port, path));
  }
  const ms = taken.map((s) => s.ms).sort((a, b) => a - b);
  return { requests: taken.length, p50Ms: quantile(ms, 0.5), maxMs: ms[ms.length - 1], bytes: taken[taken.length - 1]?.bytes };
}

/** The daemon's CPU milliseconds per request while `fn` runs (its background work included). */
async function withCpu(pid, count, fn) {
  const before = cpuMs(pid);
  const samples = await fn();
  return { ...summary(samples), cpuMsPerRequest: (cpuMs(pid) - before) / count };
}

async function listingRows({ agent, port, pid }, path, sequentialCount) {
  const rows = [];
  for (let i = 0; i < 20; i += 1) await get(agent, port, path); // warm-up
  rows.push({ path, mode: 'sequential', ...(await withCpu(pid, sequentialCount, () => sequential(agent, port, path, sequentialCount))) });
  rows.push({ path, mode: 'concurrency 10', ...(await withCpu(pid, 500, () => concurrent(agent, port, path, 500, 10))) });
  rows.push({ path, mode: 'cold (1.2 s apart)', ...(await cold(agent, port, path, 10)) });
  return rows;
}

async function metricsRows({ agent, port, pid }) {
  const first = await get(agent, port, '/metrics');
  if (first.status === 404) return [{ path: '/metrics', mode: '50 ms apart', notAvailable: 'n/a (404)' }];
  if (first.status !== 200) return [{ path: '/metrics', mode: '50 ms apart', notAvailable: `n/a (${first.status})` }];
  // The daemon's CPU over the same wall time with no scrape, to tell its background work from the scrapes'.
  const idleFrom = cpuMs(pid);
  const t0 = performance.now();
  await sleep(50 * 55);
  const idleMsPerS = ((cpuMs(pid) - idleFrom) / (performance.now() - t0)) * 1000;
  const before = cpuMs(pid);
  const s0 = performance.now();
  const samples = await sequential(agent, port, '/metrics', 50, 50);
  const cpu = cpuMs(pid) - before;
  const wallS = (performance.now() - s0) / 1000;
  const netOfIdle = (cpu - idleMsPerS * wallS) / 50;
  return [{ path: '/metrics', mode: '50 ms apart', ...summary(samples), cpuMsPerRequest: cpu / 50, idleCpuMsPerS: idleMsPerS, wallS, cpuMsPerRequestNetOfIdle: netOfIdle }];
}

// ---- one run --------------------------------------------------------------------

async function webRun(backend, nodes) {
  return withScratchDatabase(backend, 'benchweb', async (dir, dburi) => {
    const configFile = join(dir, 'nodepool.yaml');
    const logConfig = join(dir, 'logging.yaml');
    // JSON is YAML: no YAML library needed.
    writeFileSync(configFile, JSON.stringify(webConfig(dburi, nodes), null, 2));
    writeFileSync(logConfig, 'level: info\n');
    const started = performance.now();
    const daemon = new WebDaemon(configFile, logConfig);
    const agent = new Agent({ keepAlive: true, maxSockets: 10 });
    try {
      const timeoutMs = Math.max(120_000, nodes * 60);
      const port = await daemon.until('the status web server', () => daemon.port, 60_000);
      await daemon.until(`${nodes} ready nodes in the log`, () => daemon.ready.size >= nodes, timeoutMs);
      const readyS = (performance.now() - started) / 1000;
      // The page itself (the database, through the 1 s cache) must show them too.
      await daemon.until(`${nodes} ready nodes in /node-list.json`, async () => {
        const r = await get(agent, port, '/node-list.json', true);
        return r.status === 200 && JSON.parse(r.body).filter((n) => n.state === 'ready').length >= nodes;
      }, 30_000);
      const target = { agent, port, pid: daemon.pid };
      const rows = [
        ...(await listingRows(target, '/node-list.json', 500)),
        ...(await listingRows(target, '/node-list', 200)),
        ...(await metricsRows(target)),
      ];
      const stop = await daemon.stop();
      return { nodes, backend, port, readyS, stopS: stop.seconds, exitCode: stop.code, rows };
    } finally {
      agent.destroy();
      if (daemon.running) await daemon.stop();
    }
  });
}

// ---- the table -----------------------------------------------------------------------

function printResults(results) {
  const header = ['nodes', 'backend', 'path', 'mode', 'requests', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'bytes', 'daemon CPU ms/req'];
  const rows = [];
  for (const r of results) {
    if (r.failed) {
      rows.push([r.nodes, r.backend, '—', `failed: ${r.failed}`, '', '', '', '', '', '', '']);
      continue;
    }
    for (const row of r.rows) {
      if (row.notAvailable) rows.push([r.nodes, r.backend, row.path, row.mode, row.notAvailable, '', '', '', '', '', '']);
      else {
        rows.push([r.nodes, r.backend, row.path, row.mode + (row.non200 ? ` (${row.non200} not 200)` : ''), row.requests,
          fmt(row.p50Ms), fmt(row.p90Ms), fmt(row.p99Ms), fmt(row.maxMs), fmt(row.bytes, 0), fmt(row.cpuMsPerRequest)]);
      }
    }
  }
  printTable(header, rows);
  console.log('cold: one request 1.2 s after the one before (past the 1 s cache), so p50 is the median of the 10; CPU ms/req includes the daemon\'s background work.');
  for (const r of results.filter((x) => !x.failed)) {
    const m = r.rows.find((x) => x.path === '/metrics' && !x.notAvailable);
    console.log(`${r.nodes} nodes on ${r.backend}: ready after ${fmt(r.readyS)} s; SIGTERM ${fmt(r.stopS)} s (exit ${r.exitCode})${m ? `; idle daemon CPU before the scrapes ${fmt(m.idleCpuMsPerS)} ms/s, so /metrics net of it ${fmt(m.cpuMsPerRequestNetOfIdle)} CPU ms/scrape` : ''}`);
  }
}

// ---- main -----------------------------------------------------------------------------

const options = parseArgs(process.argv.slice(2));
const results = [];
outer: for (const backend of options.backends) {
  for (const nodes of options.sizes) {
    if (wasInterrupted()) break outer;
    const what = `${nodes} nodes on ${backend}`;
    process.stderr.write(`bench-web: ${what}...\n`);
    const t0 = performance.now();
    try {
      const result = await webRun(backend, nodes);
      process.stderr.write(`bench-web: ${what}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      results.push(result);
    } catch (err) {
      const reason = String(err?.message ?? err).split('\n')[0];
      process.stderr.write(`bench-web: ${what} failed: ${String(err?.stack ?? err)}\n`);
      results.push({ nodes, backend, failed: reason });
    }
  }
}
if (options.json) console.log(JSON.stringify(results, null, 2));
else printResults(results);
if (wasInterrupted()) process.exitCode = 130;
