#!/usr/bin/env node
// How long a CI job waits for its node on the embedded default: nodepoold
// as a process with config/nodepool.yaml (SQLite in a temporary directory,
// the simulated clouds, the CI simulator inside it), run once with
// debian-small at min-ready 0 and once at min-ready 5. Every run the CI
// simulator starts logs how long it waited from its queueing to taking a
// node (`waitedMs`); the figures are over the runs queued after the first
// 20 s (the pool's first fill is the start's figure, not the loop's).
//
// Build first, then:   npm run build && node scripts/bench-ci-loop.mjs [--seconds S] [--json]
// See docs/benchmarks.md, "The CI loop".
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const { values: options } = parseArgs({
  options: { seconds: { type: 'string', default: '90' }, json: { type: 'boolean', default: false } },
});
const seconds = Number(options.seconds);
if (!Number.isFinite(seconds) || seconds < 10) {
  console.error('bench-ci-loop: --seconds needs a number of at least 10');
  process.exit(2);
}

/** The embedded default with debian-small at `minReady`, its files in `dir`. */
function configIn(dir, minReady) {
  const config = parseYaml(readFileSync(join(ROOT, 'config/nodepool.yaml'), 'utf8'));
  config.dburi = `sqlite://${join(dir, 'nodepool.db')}`;
  config['images-dir'] = join(dir, 'images');
  for (const label of config.labels) if (label.name === 'debian-small') label['min-ready'] = minReady;
  for (const provider of config.providers) if (provider.fake?.['state-file']) provider.fake['state-file'] = join(dir, `${provider.name}.json`);
  const file = join(dir, 'nodepool.yaml');
  writeFileSync(file, stringifyYaml(config));
  return file;
}

/** Runs queued this long after nodepoold's first log line count; earlier ones measure its start. */
const WARM_UP_MS = 20_000;

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const round = (ms) => +(ms / 1000).toFixed(2);

/** One run of nodepoold for `seconds`; the CI simulator's waits, in ms. */
async function measure(minReady) {
  const dir = mkdtempSync(join(tmpdir(), 'nodepool-bench-ci-'));
  const configFile = configIn(dir, minReady);
  const daemon = spawn(process.execPath, [join(ROOT, 'bin/nodepoold.js'), '-d', '-c', configFile, '--no-builder', '--no-webapp'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const waits = [];
  // The log goes to stderr (the default destination); each line is JSON.
  let rest = '';
  let said = '';
  let firstLineAt;
  daemon.stderr.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const entry = JSON.parse(line);
        const at = Date.parse(entry.time);
        firstLineAt ??= at;
        // Runs queued while the pool first fills measure the start, not the pool: left out.
        if (typeof entry.waitedMs === 'number' && at - entry.waitedMs >= firstLineAt + WARM_UP_MS) waits.push(entry.waitedMs);
      } catch {
        said += `${line}\n`;
      }
    }
  });
  daemon.stdout.resume();
  const exited = new Promise((done) => daemon.on('exit', done));
  try {
    await new Promise((done) => setTimeout(done, seconds * 1000));
  } finally {
    daemon.kill('SIGTERM');
    const late = setTimeout(() => daemon.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(late);
    rmSync(dir, { recursive: true, force: true });
  }
  if (waits.length === 0) console.error(`bench-ci-loop: no run started at min-ready ${minReady}; nodepoold said:\n${said.slice(-2000)}`);
  const sorted = [...waits].sort((a, b) => a - b);
  return {
    minReady,
    runs: sorted.length,
    medianS: sorted.length ? round(quantile(sorted, 0.5)) : null,
    p90S: sorted.length ? round(quantile(sorted, 0.9)) : null,
    maxS: sorted.length ? round(sorted.at(-1)) : null,
  };
}

const results = [];
for (const minReady of [0, 5]) results.push(await measure(minReady));
if (options.json) console.log(JSON.stringify(results, null, 2));
else {
  console.log(`CI simulator runs over ${seconds} s of the embedded default: time from a run queued to its node taken`);
  console.log('min-ready  runs  median   p90     max');
  for (const r of results) console.log(`${String(r.minReady).padEnd(9)}  ${String(r.runs).padEnd(4)}  ${String(r.medianS).padEnd(6)} s ${String(r.p90S).padEnd(6)} s ${r.maxS} s`);
}
