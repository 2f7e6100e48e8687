// The inspection benchmark (docs/benchmarks.md, "Inspection: npm run
// bench:inspection"), on SQLite and MariaDB:
//
// 1. What the actors' history costs the database. nodepoold's actor host runs
//    in this process (no web server) on the real clock with simulated clouds
//    (one label, 2 providers, servers ACTIVE 0.1 s after the create); it fills
//    N nodes, then every node is deleted as `nodepool delete` does, until no
//    row is left. Every transaction and statement of the host's connection is
//    counted, the INSERTs into actor_transition among them.
// 2. The inspector page at 10,000 nodes: nodepoold as a real process with its
//    status web server, the page in Debian's chromium (playwright-core), five
//    fresh pages: the load, the rows in the DOM, a scroll to the middle, the
//    machine filter, one node opened, the page's JS heap.
//
//   npm run bench:inspection -- [--backends sqlite,mariadb] [--nodes 500] [--page-nodes 10000] [--samples 5] [--json]
//
// Needs `npm run build` (npm run bench:inspection does it) and /usr/bin/chromium.
// MariaDB at NODEPOOL_TEST_MYSQL_URI (default mysql://root@127.0.0.1:3306/);
// each run makes its own database and drops it. All traffic stays on 127.0.0.1.
// The functions handed to page.evaluate and page.waitForFunction run in the page.
/* global document */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium } from 'playwright-core';
import { ActorHost } from '../dist/src/actors/host.js';
import { diffConfig, loadConfigOrThrow } from '../dist/src/config/index.js';
import { openDatabase } from '../dist/src/db/index.js';
import { closeFakeClouds } from '../dist/src/drivers/fake/index.js';
import { Logging } from '../dist/src/log/index.js';
import { Nodepoold } from '../dist/src/nodepoold/nodepoold.js';
import { withScratchDatabase } from './scratch-database.mjs';
import { fakeProvider, scaleConfig } from './bench-workloads.mjs';
import { WebDaemon, wasInterrupted } from './bench-daemon.mjs';
import { fmt, printTable } from './bench-table.mjs';

const CHROMIUM = '/usr/bin/chromium';
const POLL_MS = 100;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- options ------------------------------------------------------------------

const USAGE = 'npm run bench:inspection -- [--backends sqlite,mariadb] [--nodes 500] [--page-nodes 10000] [--samples 5] [--json]';

function parseArgs(argv) {
  const options = { backends: ['sqlite', 'mariadb'], nodes: 500, pageNodes: 10_000, samples: 5, json: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const count = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`${arg} needs a whole number of at least 1`);
      return n;
    };
    if (arg === '--backends') options.backends = value().split(',');
    else if (arg === '--nodes') options.nodes = count();
    else if (arg === '--page-nodes') options.pageNodes = count();
    else if (arg === '--samples') options.samples = count();
    else if (arg === '--json') options.json = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  // The scale workload splits the nodes over two labels.
  if (options.pageNodes % 2) throw new Error(`--page-nodes: ${options.pageNodes} is not even`);
  // The scroll to the middle needs more rows than one view holds.
  if (options.pageNodes < 200) throw new Error(`--page-nodes: ${options.pageNodes} is fewer than 200, less than the list's scrolling needs`);
  for (const b of options.backends) if (b !== 'sqlite' && b !== 'mariadb') throw new Error(`--backends: ${b} is not sqlite or mariadb`);
  return options;
}

/** Polls `check` until it gives a truthy value; bounded, and given up on an interrupt. */
async function until(what, check, timeoutMs, describe = async () => '') {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (wasInterrupted()) throw new Error(`interrupted while waiting for ${what}`);
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${await describe()}`);
    await sleep(POLL_MS);
  }
}

// ---- 1. the history's writes ------------------------------------------------------

/** One label over two providers, booting in 0.1 s, nothing but `min-ready` to bound the pool. */
function historyConfig(dburi, minReady, nodes) {
  const names = ['fake-1', 'fake-2'];
  return {
    dburi,
    labels: [{ name: 'small', image: 'debian', 'min-ready': minReady, providers: names.map((name) => ({ name })) }],
    providers: names.map((name) => fakeProvider(name, nodes)),
    targets: [{ name: 'local' }],
    diskimages: [{ name: 'debian', elements: ['debian-minimal'] }],
  };
}

const TRANSACTION_CONTROL = /^(begin|commit|rollback|savepoint|release savepoint|set transaction)\b/i;
const WRITE = /^(insert|update|delete|replace)\b/i;
const TRANSITION_INSERT = /^insert\s+into\s+[`"]?actor_transition[`"]?/i;
const SNAPSHOT_WRITE = /^(insert|update|delete|replace)\b[^;]*?[`"]actor_snapshot[`"]/i;
/** Columns of one actor_transition row (src/db/actor-transitions.ts): a multi-row INSERT has this many bindings per row. */
const TRANSITION_COLUMNS = 7;

/**
 * Counts what goes through one Database: its transactions (`db.transaction`,
 * which persistence and the workloads use) and every statement of its knex,
 * those inside transactions included (knex passes a transaction's 'query'
 * events on to the instance), by the transaction they ran in.
 */
function countDatabase(db) {
  const totals = {
    transactions: 0,
    begins: 0,
    statements: 0,
    writes: 0,
    transitionInserts: 0,
    transitionRows: 0,
    transitionInsertsOutsideTransactions: 0,
  };
  /** Per knex transaction id: did it insert transitions, did it write snapshots. */
  const byTransaction = new Map();
  const original = db.transaction;
  db.transaction = (fn) => {
    totals.transactions += 1;
    return original(fn);
  };
  const listener = (query) => {
    const sql = String(query.sql ?? '').trim();
    if (TRANSACTION_CONTROL.test(sql)) {
      if (/^begin\b/i.test(sql)) totals.begins += 1;
      return;
    }
    totals.statements += 1;
    if (!WRITE.test(sql)) return;
    totals.writes += 1;
    const tx = query.__knexTxId;
    const seen = tx ? byTransaction.get(tx) ?? { transitions: false, snapshots: false } : undefined;
    if (TRANSITION_INSERT.test(sql)) {
      totals.transitionInserts += 1;
      totals.transitionRows += Math.round((query.bindings?.length ?? 0) / TRANSITION_COLUMNS);
      if (seen) seen.transitions = true;
      else totals.transitionInsertsOutsideTransactions += 1;
    } else if (seen && SNAPSHOT_WRITE.test(sql)) {
      seen.snapshots = true;
    }
    if (seen) byTransaction.set(tx, seen);
  };
  db.knex.on('query', listener);
  return {
    /** The counts so far. */
    take() {
      const carrying = [...byTransaction.values()].filter((t) => t.transitions);
      return {
        ...totals,
        transactionsWithTransitions: carrying.length,
        transactionsWithTransitionsAndSnapshots: carrying.filter((t) => t.snapshots).length,
      };
    },
    detach() {
      db.knex.off('query', listener);
      db.transaction = original;
    },
  };
}

const minus = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, a[k] - (b[k] ?? 0)]));

async function historyRun(backend, nodes) {
  return withScratchDatabase(backend, 'benchinsp', async (dir, dburi) => {
    const configFile = join(dir, 'nodepool.yaml');
    const logFile = join(dir, 'nodepoold.log');
    // JSON is YAML: no YAML library needed.
    writeFileSync(configFile, JSON.stringify(historyConfig(dburi, nodes, nodes), null, 2));
    const timeoutMs = Math.max(120_000, nodes * 200);
    let db;
    let observer;
    let host;
    let counter;
    try {
      let config = loadConfigOrThrow(configFile);
      db = await openDatabase(dburi);
      // The commands' view, as `nodepool list` / `nodepool delete` would have it:
      // its reads and the deletes are not the daemon's, so not counted.
      observer = await openDatabase(dburi, { migrate: false });
      const describe = async () => {
        const rows = await observer.nodes.list();
        const states = {};
        for (const r of rows) states[r.state] = (states[r.state] ?? 0) + 1;
        const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n') : '(no log)';
        return `\nnode rows by state: ${JSON.stringify(states)}\nlast lines of the log:\n${tail}`;
      };
      const logging = new Logging({ level: 'info', loggers: {}, destination: logFile });
      counter = countDatabase(db);
      // No configuration file to watch: the reload below is applied by hand, once.
      host = new ActorHost({ db, logging, config });
      host.add(new Nodepoold(host));
      const t0 = performance.now();
      await host.start();
      await until(`${nodes} ready nodes`, async () => (await observer.nodes.list({ state: 'ready' })).length >= nodes, timeoutMs, describe);
      const fillS = (performance.now() - t0) / 1000;
      const afterFill = counter.take();

      // min-ready 0 first, or every deleted node would be replaced.
      const previous = config;
      writeFileSync(configFile, JSON.stringify(historyConfig(dburi, 0, nodes), null, 2));
      config = loadConfigOrThrow(configFile);
      host.reconfigure({ config, previous, diff: diffConfig(previous, config) });
      const d0 = performance.now();
      for (const node of await observer.nodes.list()) {
        await observer.transaction(async (tx) => {
          await tx.nodes.setState(node.id, 'delete');
          await tx.changes.append('node', node.id, 'delete');
        });
      }
      await until('no node rows left', async () => (await observer.nodes.list()).length === 0, timeoutMs, describe);
      const deleteS = (performance.now() - d0) / 1000;
      await host.flush();
      await host.stop();
      host = undefined;
      const all = counter.take();

      const byMachine = {};
      for (const row of await observer.knex('actor_transition').select('machine').count({ n: '*' }).groupBy('machine')) byMachine[row.machine] = Number(row.n);
      const [nodeRow] = await observer.knex('actor_transition')
        .where('actor_id', 'like', 'node-%')
        .select(observer.knex.raw('COUNT(*) AS n, COUNT(DISTINCT actor_id) AS actors'));
      const nodeTransitions = Number(nodeRow.n);
      return {
        backend,
        nodes,
        fillS,
        deleteS,
        phases: { fill: afterFill, deleteAndStop: minus(all, afterFill), all },
        rowsByMachine: byMachine,
        nodeTransitionRows: nodeTransitions,
        nodeActorsInHistory: Number(nodeRow.actors),
        perNodeLifecycle: {
          transitions: nodeTransitions / nodes,
          transitionInserts: all.transitionInserts / nodes,
          transactions: all.transactions / nodes,
          statements: all.statements / nodes,
          writes: all.writes / nodes,
        },
        rowsPerTransitionInsert: all.transitionInserts ? all.transitionRows / all.transitionInserts : 0,
      };
    } finally {
      await host?.stop().catch((err) => process.stderr.write(`bench-inspection: stopping nodepoold's host failed: ${err.message}\n`));
      counter?.detach();
      await observer?.close().catch(() => {});
      await db?.close().catch(() => {});
      await closeFakeClouds().catch(() => {});
    }
  });
}

// ---- 2. the page ---------------------------------------------------------------------

/** One GET: status and body. */
function get(port, path) {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => done({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', fail);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`GET ${path}: no answer in 60 s`)));
    req.on('error', fail);
    req.end();
  });
}

const ROW = '[data-testid=actor-row]';

/** One fresh page (a context of its own: no cache, no storage): the steps a person takes, timed. */
async function pageSample(browser, url, index) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  try {
    const page = await context.newPage();
    const t0 = performance.now();
    await page.goto(`${url}/`);
    await Promise.all([
      page.waitForSelector(ROW, { state: 'visible', timeout: 60_000 }),
      page.waitForSelector('[data-testid=summary-label]', { state: 'attached', timeout: 60_000 }),
    ]);
    const loadMs = performance.now() - t0;
    const rowsAfterLoad = await page.locator(ROW).count();
    const totalText = await page.textContent('[data-testid=actor-total]');

    // The middle of the tree: pages of it that were never fetched, so the rows come from the server.
    const s0 = performance.now();
    await page.evaluate(() => {
      const viewport = document.querySelector('[data-testid=actor-list]');
      viewport.scrollTop = (viewport.scrollHeight - viewport.clientHeight) / 2;
    });
    // Filled: a row at the top edge of the view and one at its bottom edge (the view may span two pages of 200).
    await page.waitForFunction(() => {
      const viewport = document.querySelector('[data-testid=actor-list]');
      const rows = [...viewport.querySelectorAll('[data-testid=actor-row]')].map((row) => [row.offsetTop, row.offsetTop + row.offsetHeight]);
      const top = viewport.scrollTop;
      const bottom = top + viewport.clientHeight;
      return rows.some(([from, to]) => from <= top && to > top) && rows.some(([from, to]) => from < bottom && to >= bottom);
    }, undefined, { timeout: 60_000, polling: 'raf' });
    const scrollMs = performance.now() - s0;
    const rowsAfterScroll = await page.locator(ROW).count();

    // The nodes only: the list goes back to its top, so a row at the very top that is a node is the filtered list.
    const f0 = performance.now();
    await page.selectOption('[data-testid=filter-machine]', 'node');
    await page.waitForFunction((before) => {
      const viewport = document.querySelector('[data-testid=actor-list]');
      const total = document.querySelector('[data-testid=actor-total]')?.textContent;
      return total !== before && viewport.scrollTop === 0
        && [...viewport.querySelectorAll('[data-testid=actor-row]')].some((row) => row.offsetTop === 0 && row.dataset.machine === 'node');
    }, totalText, { timeout: 60_000, polling: 'raf' });
    const filterMs = performance.now() - f0;

    // A different node in each sample, so no sample opens one the daemon just served.
    const nodeRows = page.locator(`${ROW}[data-machine=node]`);
    const row = nodeRows.nth(index % (await nodeRows.count()));
    const actorId = await row.getAttribute('data-actor-id');
    const o0 = performance.now();
    await row.click();
    await Promise.all([
      page.waitForSelector('[data-testid=chart] [data-testid=chart-state].current', { state: 'visible', timeout: 60_000 }),
      page.waitForSelector(`[data-testid=detail-id]:text-is("${actorId}")`, { timeout: 60_000 }),
    ]);
    const openMs = performance.now() - o0;
    const heapBytes = await page.evaluate(() => performance.memory?.usedJSHeapSize ?? null);
    return { loadMs, rowsAfterLoad, total: totalText, scrollMs, rowsAfterScroll, filterMs, actorId, openMs, heapMB: heapBytes === null ? null : heapBytes / 1024 / 1024 };
  } finally {
    await context.close().catch(() => {});
  }
}

async function pageRun(backend, nodes, samples) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium)`);
  return withScratchDatabase(backend, 'benchinsp', async (dir, dburi) => {
    const configFile = join(dir, 'nodepool.yaml');
    const logConfig = join(dir, 'logging.yaml');
    writeFileSync(configFile, JSON.stringify({ ...scaleConfig(dburi, nodes), webapp: { listen: '127.0.0.1', port: 0 } }, null, 2));
    writeFileSync(logConfig, 'level: info\n');
    const started = performance.now();
    const daemon = new WebDaemon(configFile, logConfig);
    let browser;
    try {
      const port = await daemon.until('the status web server', () => daemon.port, 60_000);
      await daemon.until(`${nodes} ready nodes in the log`, () => daemon.ready.size >= nodes, Math.max(120_000, nodes * 60));
      const readyS = (performance.now() - started) / 1000;
      await daemon.until(`${nodes} ready nodes in /node-list.json`, async () => {
        const r = await get(port, '/node-list.json');
        return r.status === 200 && JSON.parse(r.body).filter((n) => n.state === 'ready').length >= nodes;
      }, 30_000);
      // Precise figures: without the flag chromium rounds the heap to coarse steps.
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--enable-precise-memory-info'] });
      const url = `http://127.0.0.1:${port}`;
      const runs = [];
      for (let i = 0; i < samples; i += 1) {
        if (wasInterrupted()) throw new Error('interrupted');
        runs.push(await pageSample(browser, url, i));
      }
      await browser.close();
      browser = undefined;
      const stop = await daemon.stop();
      return { backend, nodes, readyS, stopS: stop.seconds, exitCode: stop.code, samples: runs };
    } finally {
      await browser?.close().catch(() => {});
      if (daemon.running) await daemon.stop();
    }
  });
}

// ---- the tables -----------------------------------------------------------------------

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

function printHistory(results) {
  console.log('history: the daemon\'s connection, from the start to the stop (the benchmark\'s reads and deletes not counted)');
  const rows = [];
  for (const r of results) {
    const h = r.history;
    if (!h) continue;
    if (h.failed) {
      rows.push([r.backend, '—', `failed: ${h.failed}`, '', '', '', '', '', '']);
      continue;
    }
    for (const [name, p] of [['fill', h.phases.fill], ['delete and stop', h.phases.deleteAndStop], ['all', h.phases.all]]) {
      rows.push([r.backend, h.nodes, name, p.transactions, p.statements, p.writes, p.transitionInserts, p.transactionsWithTransitions, p.transitionRows]);
    }
  }
  printTable(['backend', 'nodes', 'phase', 'transactions', 'statements', 'of them writes', 'INSERT actor_transition', 'transactions with them', 'transition rows'], rows);

  const per = [];
  for (const r of results) {
    const h = r.history;
    if (!h || h.failed) continue;
    const p = h.perNodeLifecycle;
    per.push([r.backend, h.nodes, fmt(p.transitions), fmt(p.transitionInserts, 3), fmt(h.rowsPerTransitionInsert, 1), fmt(p.transactions), fmt(p.statements), fmt(p.writes)]);
  }
  if (per.length) {
    console.log('per node lifecycle (launch, ready, delete, gone)');
    printTable(['backend', 'nodes', 'node transitions', 'extra statements (INSERT actor_transition)', 'rows per INSERT', 'transactions', 'statements', 'writes'], per);
  }
  for (const r of results) {
    const h = r.history;
    if (!h || h.failed) continue;
    const all = h.phases.all;
    console.log(`${r.backend}: ${h.nodes} nodes ready after ${fmt(h.fillS)} s, all deleted and gone ${fmt(h.deleteS)} s after the first delete; `
      + `${h.nodeTransitionRows} node transitions of ${h.nodeActorsInHistory} node actors; `
      + `${all.transactionsWithTransitionsAndSnapshots} of the ${all.transactionsWithTransitions} transactions with transitions also wrote snapshots, `
      + `${all.transitionInsertsOutsideTransactions} INSERT(s) outside a transaction; ${all.begins} BEGINs for ${all.transactions} transactions; `
      + `rows by machine ${JSON.stringify(h.rowsByMachine)}`);
  }
  console.log();
}

function printPage(results) {
  const rows = [];
  const figures = [
    ['load: goto -> first row and the summary, ms', (s) => s.loadMs],
    ['actor rows in the DOM after the load', (s) => s.rowsAfterLoad, 0],
    ['scroll to the middle -> the view filled, ms', (s) => s.scrollMs],
    ['actor rows in the DOM after the scroll', (s) => s.rowsAfterScroll, 0],
    ['machine filter "node" -> node rows, ms', (s) => s.filterMs],
    ['open a node: click -> chart, current state lit, ms', (s) => s.openMs],
    ['page JS heap used, MB', (s) => s.heapMB, 1],
  ];
  for (const r of results) {
    const p = r.page;
    if (!p) continue;
    if (p.failed) {
      rows.push([r.backend, '—', `failed: ${p.failed}`, '', '']);
      continue;
    }
    for (const [name, pick, digits = 0] of figures) {
      const values = p.samples.map(pick).filter((v) => typeof v === 'number');
      rows.push([r.backend, p.nodes, name, values.length ? fmt(median(values), digits) : 'n/a', values.length ? fmt(Math.max(...values), digits) : 'n/a']);
    }
  }
  console.log(`the inspector page: ${results.find((r) => r.page && !r.page.failed)?.page.samples.length ?? 0} fresh pages each, chromium ${CHROMIUM}`);
  printTable(['backend', 'nodes', 'figure', 'median', 'max'], rows);
  for (const r of results) {
    const p = r.page;
    if (!p || p.failed) continue;
    console.log(`${r.backend}: ${p.nodes} nodes ready after ${fmt(p.readyS)} s; the list said "${p.samples[0]?.total}"; SIGTERM ${fmt(p.stopS)} s (exit ${p.exitCode})`);
  }
}

// ---- main -----------------------------------------------------------------------------

const options = parseArgs(process.argv.slice(2));
const results = [];
for (const backend of options.backends) {
  if (wasInterrupted()) break;
  const result = { backend };
  results.push(result);
  for (const [part, what, run] of [
    ['history', `history of ${options.nodes} nodes on ${backend}`, () => historyRun(backend, options.nodes)],
    ['page', `page at ${options.pageNodes} nodes on ${backend}`, () => pageRun(backend, options.pageNodes, options.samples)],
  ]) {
    if (wasInterrupted()) break;
    process.stderr.write(`bench-inspection: ${what}...\n`);
    const t0 = performance.now();
    try {
      result[part] = await run();
      process.stderr.write(`bench-inspection: ${what}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    } catch (err) {
      process.stderr.write(`bench-inspection: ${what} failed: ${String(err?.stack ?? err)}\n`);
      result[part] = { failed: String(err?.message ?? err).split('\n')[0] };
    }
  }
}
if (options.json) console.log(JSON.stringify(results, null, 2));
else {
  printHistory(results);
  printPage(results);
}
if (wasInterrupted()) process.exitCode = 130;
else if (results.some((r) => r.history?.failed || r.page?.failed)) process.exitCode = 1;
