#!/usr/bin/env node
// Measures `nodepool image-build` on the embedded default: nodepoold (with its
// in-process builder, default timings) runs as a real process on a copy of
// config/nodepool.yaml whose files live in a temporary directory; the script
// asks for a build with the real command and times, from the request, the
// build starting, the build ready, and the build's uploads ready in every
// provider that lists the image.
//
// Build first, then:   npm run build && node scripts/bench-image-build.mjs [--runs N] [--json]
// See docs/benchmarks.md for what each figure means.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { openDatabase } from '../dist/src/db/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: node scripts/bench-image-build.mjs [--runs N] [--timeout SECONDS] [--json]';
const options = { runs: 5, timeoutS: 120, json: false };
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
    else if (arg === '--timeout') options.timeoutS = count('--timeout');
    else if (arg === '--json') options.json = true;
    else if (arg === '-h' || arg === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown argument ${arg}\n${USAGE}`);
  }
}

function fail(message) {
  console.error(`bench-image-build: ${message}`);
  process.exit(2);
}

// The embedded default, with every path it writes moved into a temporary directory.
const dir = mkdtempSync(join(tmpdir(), 'nodepool-bench-image-'));
const config = parseYaml(readFileSync(join(ROOT, 'config/nodepool.yaml'), 'utf8'));
config.dburi = `sqlite://${join(dir, 'nodepool.db')}`;
config['images-dir'] = join(dir, 'images');
for (const provider of config.providers) provider.fake['state-file'] = join(dir, `${provider.name}.json`);
for (const diskimage of config.diskimages) diskimage['dib-cmd'] = join(ROOT, 'config/fake-image-create');
const configFile = join(dir, 'nodepool.yaml');
writeFileSync(configFile, stringifyYaml(config));
const IMAGE = config.diskimages[0].name;
/** Every (provider, provider image) that uses the diskimage: where each build must be uploaded. */
const targets = config.providers.flatMap((p) => p.images.filter((i) => (i.diskimage ?? i.name) === IMAGE).map((i) => `${p.name}/${i.name}`));

const daemon = spawn(process.execPath, [join(ROOT, 'bin/nodepoold.js'), '-d', '-c', configFile, '--no-webapp'], {
  cwd: ROOT,
  stdio: ['ignore', 'ignore', 'pipe'],
  env: { ...process.env, NODEPOOL_DBURI: '' },
});
let stderr = '';
daemon.stderr.on('data', (chunk) => {
  stderr = (stderr + chunk).slice(-4000);
});
const db = await openDatabase(config.dburi);

async function until(what, check) {
  const deadline = performance.now() + options.timeoutS * 1000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}\n${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Milliseconds from the request until the build starts, is ready, and is ready in every target. */
async function oneBuild(previousBuildId) {
  const t0 = performance.now();
  execFileSync(process.execPath, [join(ROOT, 'bin/nodepool.js'), '-c', configFile, 'image-build', IMAGE], { stdio: 'ignore' });
  const requested = performance.now() - t0;
  const build = await until('the requested build to start', async () => (await db.builds.list({ image: IMAGE })).find((b) => b.id > previousBuildId));
  const started = performance.now() - t0;
  await until('the build to be ready', async () => (await db.builds.get(build.id))?.state === 'ready');
  const built = performance.now() - t0;
  let firstUpload;
  await until('its uploads everywhere', async () => {
    const ready = (await db.uploads.list({ buildId: build.id, states: ['ready'] })).map((u) => `${u.provider}/${u.image}`);
    if (ready.length > 0) firstUpload ??= performance.now() - t0;
    return targets.every((t) => ready.includes(t));
  });
  return { buildId: build.id, requested, started, built, firstUpload, uploaded: performance.now() - t0 };
}

const runs = [];
try {
  // The first build happens on its own at start (no ready build); wait for it and its uploads.
  const first = await until('the first build', async () => (await db.builds.list({ image: IMAGE, states: ['ready'] }))[0]);
  await until('the first uploads', async () => (await db.uploads.list({ buildId: first.id, states: ['ready'] })).length === targets.length);
  let last = first.id;
  for (let i = 0; i < options.runs; i++) {
    const run = await oneBuild(last);
    last = run.buildId;
    runs.push(run);
  }
} finally {
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const figures = Object.fromEntries(
  ['requested', 'started', 'built', 'firstUpload', 'uploaded'].map((key) => [key, { median: median(runs.map((r) => r[key])), max: Math.max(...runs.map((r) => r[key])) }]),
);
if (options.json) {
  console.log(JSON.stringify({ runs: runs.length, targets, figures }, null, 2));
} else {
  const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`image-build ${IMAGE} on the embedded default, ${runs.length} runs; uploads to ${targets.join(', ')}`);
  console.log('from the request (command start) until       median     max');
  const rows = [
    ['the command returned', 'requested'],
    ['the build started', 'started'],
    ['the build was ready', 'built'],
    ['the first upload was ready', 'firstUpload'],
    ['every upload was ready', 'uploaded'],
  ];
  for (const [label, key] of rows) console.log(`  ${label.padEnd(38)} ${s(figures[key].median).padStart(8)} ${s(figures[key].max).padStart(8)}`);
}
