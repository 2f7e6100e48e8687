// The chaos suite (docs/reliability.md, "npm run chaos"): inputs an
// adversarial operator would try, each scenario printing its figures and
// failing (exit 1) on any loss, hang, stack trace or success where a
// refusal was due. Not part of `npm test`; `--short` runs a small version of
// each scenario, as CI does after the tests.
//
//   npm run chaos -- [--short] [--scenarios config-fuzz,cli-input,reload-abuse] [--backends sqlite,mariadb]
//
// Scenarios so far: config-fuzz (generated invalid nodepool.yaml files:
// broken YAML, alias bombs, binary garbage, deep nesting, a 20 MB file,
// wrong types and values), cli-input (bad ids, oversized and odd values,
// quotes and SQL characters that must round-trip unchanged) and
// reload-abuse (a running nodepoold's file rewritten a hundred times in
// twenty seconds, valid and not, converging to the last valid one).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { stringify as stringifyYaml } from 'yaml';
import { seededRandom } from '../dist/src/simulated-cloud/index.js';
import { withScratchDatabase } from './scratch-database.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** A command that takes longer than this on any input hangs, as far as an operator is concerned. */
const HANG_MS = 10_000;

const SCENARIOS = ['config-fuzz', 'cli-input', 'reload-abuse'];

/** The options, read by node's own parser (unknown options are an error). */
function options(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        short: { type: 'boolean', default: false },
        scenarios: { type: 'string', default: SCENARIOS.join(',') },
        backends: { type: 'string', default: 'sqlite,mariadb' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    console.error(`chaos: ${err.message}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(`npm run chaos -- [--short] [--scenarios ${SCENARIOS.join(',')}] [--backends sqlite,mariadb]`);
    process.exit(0);
  }
  return { short: values.short, scenarios: values.scenarios.split(','), backends: values.backends.split(',') };
}

/** `nodepool ARGS` as a new process: exit code, output, time; a run past HANG_MS is killed and counted as a hang. */
function nodepool(args) {
  const started = performance.now();
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'bin/nodepool.js'), ...args], { cwd: ROOT, timeout: HANG_MS, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NODEPOOL_DBURI: undefined } },
      (error, stdout, stderr) => {
        const hung = Boolean(error?.killed);
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout, stderr, hung, ms: performance.now() - started });
      });
  });
}

/** A stack trace in what an operator reads: a line that starts with "at " after indentation. */
const hasStackTrace = (text) => /^\s+at .+\(.+:\d+:\d+\)$/m.test(text) || /^\s+at .+:\d+:\d+$/m.test(text);

// ---- config-fuzz ------------------------------------------------------------------

const VALID = {
  dburi: 'sqlite:///tmp/chaos.db',
  labels: [{ name: 'small', image: 'debian', 'min-ready': 1, providers: [{ name: 'fake-a' }] }],
  providers: [{ name: 'fake-a', driver: 'fake', 'max-servers': 4, images: [{ name: 'debian', 'min-ram': 1024 }] }],
  targets: [{ name: 'local' }],
  diskimages: [{ name: 'debian', elements: ['debian-minimal'] }],
};

/** The kinds of bad file, each a function of a seeded random source. */
const BAD_FILES = {
  'wrong type': (r) => {
    const c = structuredClone(VALID);
    const choices = [() => (c.labels[0]['min-ready'] = 'many'), () => (c.providers[0]['max-servers'] = [1]), () => (c.targets = 'local'), () => (c.labels = { a: 1 })];
    choices[Math.floor(r() * choices.length)]();
    return stringifyYaml(c);
  },
  'bad value': (r) => {
    const c = structuredClone(VALID);
    const choices = [() => (c.labels[0]['min-ready'] = -7), () => (c.providers[0].rate = 0), () => (c.labels[0].name = ''), () => (c.providers[0].images[0]['min-ram'] = -1)];
    choices[Math.floor(r() * choices.length)]();
    return stringifyYaml(c);
  },
  'missing reference': () => {
    const c = structuredClone(VALID);
    c.labels[0].providers = [{ name: 'nowhere' }];
    return stringifyYaml(c);
  },
  // Each breaks the YAML wherever it stands: after a valid file, at the top level.
  'broken YAML': (r) => {
    const breakers = ['labels: [unclosed', '"unclosed: x', '\t- tabbed', '- a list after a mapping', 'key: value: another', '{a: 1'];
    return `${stringifyYaml(VALID)}${breakers[Math.floor(r() * breakers.length)]}\n`;
  },
  'binary garbage': (r) => Buffer.from(Array.from({ length: 2048 + Math.floor(r() * 4096) }, () => Math.floor(r() * 256))),
  'alias bomb': () => ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 12 }, (_, i) => {
    const prev = String.fromCharCode(97 + i);
    return `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${prev}`).join(', ')}]`;
  })].join('\n'),
  'deep nesting': (r) => `labels: ${'['.repeat(5_000 + Math.floor(r() * 20_000))}\n`,
  'undefined alias': () => 'labels:\n  - name: a\n    image: *nope\n',
  'many problems': (r) => stringifyYaml({ ...VALID, labels: Array.from({ length: 2_000 + Math.floor(r() * 8_000) }, (_, i) => ({ name: `l${i}`, image: 'x', 'min-ready': -5 })) }),
};

async function configFuzz(short) {
  const dir = mkdtempSync(join(tmpdir(), 'nodepool-chaos-config-'));
  const random = seededRandom(20261126);
  const kinds = Object.keys(BAD_FILES);
  const files = short ? 30 : 200;
  const failures = { 'exit 0': 0, hang: 0, 'stack trace': 0, 'no message': 0 };
  const byKind = {};
  let slowest = 0;
  try {
    const cases = Array.from({ length: files }, (_, i) => kinds[i % kinds.length]);
    if (!short) cases.push('20 MB file');
    for (const [i, kind] of cases.entries()) {
      const file = join(dir, `bad-${i}.yaml`);
      writeFileSync(file, kind === '20 MB file' ? `# ${'x'.repeat(20 * 1024 * 1024)}\n` : BAD_FILES[kind](random));
      const run = await nodepool(['-c', file, 'config-validate']);
      slowest = Math.max(slowest, run.ms);
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      const out = `${run.stdout}${run.stderr}`;
      const problem = run.hung ? 'hang' : run.code === 0 ? 'exit 0' : hasStackTrace(out) ? 'stack trace' : out.trim() === '' ? 'no message' : undefined;
      if (problem) {
        failures[problem] += 1;
        console.error(`config-fuzz: ${kind} (${file}): ${problem}\n${out.slice(0, 600)}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  return { scenario: 'config-fuzz', files: Object.values(byKind).reduce((a, b) => a + b, 0), byKind, failures, slowestS: +(slowest / 1000).toFixed(2), ok: failed === 0 };
}

// ---- cli-input -------------------------------------------------------------------

/** A configuration file naming a scratch database of `backend`. */
function withBackend(backend, fn) {
  return withScratchDatabase(backend, 'chaos', (dir, dburi) => {
    const configFile = join(dir, 'nodepool.yaml');
    writeFileSync(configFile, stringifyYaml({ ...VALID, dburi }));
    return fn(configFile);
  });
}

async function cliInput(backend, short) {
  return withBackend(backend, async (configFile) => {
    const np = (...args) => nodepool(['-c', configFile, ...args]);
    const failures = { 'wrong exit': 0, 'stack trace or SQL': 0, 'not round-tripped': 0, hang: 0 };
    const note = (what, run, detail) => {
      failures[what] += 1;
      console.error(`cli-input [${backend}]: ${what}: ${detail}\n${(run?.stderr ?? '').slice(0, 400)}`);
    };
    const refusals = [
      [['hold', '-1'], 2], [['hold', '0'], 2], [['hold', 'abc'], 2], [['hold', '1.5'], 2], [['hold', '9007199254740993'], 2],
      [['hold', '99999999'], 1], [['delete', '99999999'], 1], [['delete', ''], 2], [['job-delete', '-3'], 2],
      [['job-create', 'x'.repeat(256)], 2], [['job-create', ''], 2], [['job-create', 'a\nb'], 2],
      [['job-create', 'n', '--hold-on-failure', '2147483648'], 2], [['job-create', 'n', '--hold-on-failure', '-1'], 2],
      [['hold', '1', '--reason', 'r'.repeat(70_000)], 2], [['image-delete', '--provider', 'p', '--image', 'i', '--upload-id', 'x', '--build-id', '1'], 2],
      [[], 2], [['frobnicate'], 2],
    ];
    let asked = 0;
    for (const [args, code] of refusals) {
      const run = await np(...args);
      asked += 1;
      if (run.hung) note('hang', run, args.join(' ').slice(0, 60));
      else if (run.code !== code) note('wrong exit', run, `${args.join(' ').slice(0, 60)}: exit ${run.code}, expected ${code}`);
      if (hasStackTrace(run.stderr) || /insert into|update `|select .* from/i.test(run.stderr)) note('stack trace or SQL', run, args.join(' ').slice(0, 60));
    }
    // Values with quotes and SQL characters come back exactly as given.
    const odd = ["it's", '"quoted"', 'x; DROP TABLE node; --', "a' OR '1'='1", 'back\\slash', '%_%', 'é😀 ümlaut', '`tick`', '$(echo no)', "tab\there"];
    const names = short ? odd.slice(0, 4) : odd;
    for (const [i, value] of names.entries()) {
      const name = `${value}-${i}`.replace(/\t/g, ' ');
      const created = await np('job-create', name, '--hold-on-failure', String(i));
      asked += 1;
      if (created.code !== 0) {
        note('wrong exit', created, `job-create ${JSON.stringify(name)}: exit ${created.code}`);
        continue;
      }
      const jobs = JSON.parse((await np('job-list', '--json')).stdout);
      const found = jobs.find((j) => j.name === name);
      if (!found || Number(found.hold_on_failure) !== i) note('not round-tripped', created, JSON.stringify(name));
    }
    const failed = Object.values(failures).reduce((a, b) => a + b, 0);
    return { scenario: 'cli-input', backend, commands: asked, failures, ok: failed === 0 };
  });
}

// ---- reload-abuse ------------------------------------------------------------------

/**
 * nodepoold on SQLite and a simulated cloud, its file rewritten `rewrites`
 * times over `seconds`, valid (min-ready 1 to 4) and invalid (broken YAML,
 * wrong types, binary garbage) in turn; the last file is valid with
 * min-ready 6. The daemon must stay up and reach 6 ready nodes.
 */
async function reloadAbuse(short) {
  const dir = mkdtempSync(join(tmpdir(), 'nodepool-chaos-reload-'));
  const configFile = join(dir, 'nodepool.yaml');
  const random = seededRandom(7);
  const config = (minReady) => ({
    ...VALID,
    dburi: `sqlite://${join(dir, 'np.db')}`,
    labels: [{ ...VALID.labels[0], 'min-ready': minReady }],
    providers: [{ ...VALID.providers[0], 'max-servers': 10, rate: 0.01, fake: { 'state-file': join(dir, 'fake-a.json'), latency: { create: 0.05, active: 0.2, delete: 0.1 } } }],
  });
  const invalid = [
    () => `${stringifyYaml(config(2))}labels: [unclosed\n`,
    () => stringifyYaml({ ...config(2), labels: [{ ...VALID.labels[0], 'min-ready': 'lots' }] }),
    () => Buffer.from(Array.from({ length: 512 }, () => Math.floor(random() * 256))),
    () => '',
  ];
  const rewrites = short ? 20 : 100;
  const seconds = short ? 5 : 20;
  writeFileSync(configFile, stringifyYaml(config(1)));
  const daemon = spawn(process.execPath, [join(ROOT, 'bin/nodepoold.js'), '-d', '-c', configFile, '--no-builder'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  daemon.stdout.on('data', (d) => (output += d));
  daemon.stderr.on('data', (d) => (output += d));
  const exited = new Promise((r) => daemon.on('exit', (code) => r(code)));
  const failures = { 'daemon exited': 0, 'not converged': 0, 'stack trace': 0 };
  let validWritten = 0;
  let invalidWritten = 0;
  let convergedS;
  try {
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < rewrites; i += 1) {
      if (i % 2 === 0) {
        writeFileSync(configFile, stringifyYaml(config(1 + Math.floor(random() * 4))));
        validWritten += 1;
      } else {
        writeFileSync(configFile, invalid[Math.floor(random() * invalid.length)]());
        invalidWritten += 1;
      }
      await new Promise((r) => setTimeout(r, (seconds * 1000) / rewrites));
    }
    writeFileSync(configFile, stringifyYaml(config(6)));
    validWritten += 1;
    const lastWrite = performance.now();
    for (;;) {
      if (daemon.exitCode !== null) break;
      const listed = await nodepool(['-c', configFile, 'list', '--json']);
      const ready = listed.code === 0 ? JSON.parse(listed.stdout).filter((n) => n.state === 'ready').length : 0;
      if (ready >= 6) {
        convergedS = +((performance.now() - lastWrite) / 1000).toFixed(2);
        break;
      }
      if (performance.now() - lastWrite > 30_000) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    if (daemon.exitCode !== null) failures['daemon exited'] += 1;
    else if (convergedS === undefined) failures['not converged'] += 1;
    if (hasStackTrace(output)) failures['stack trace'] += 1;
  } finally {
    if (daemon.exitCode === null) daemon.kill('SIGTERM');
    let bound;
    const code = await Promise.race([exited, new Promise((r) => (bound = setTimeout(() => r('timeout'), 15_000)))]);
    clearTimeout(bound);
    if (code === 'timeout') daemon.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  const refusedLogged = (output.match(/invalid|refused|cannot/gi) ?? []).length;
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  if (failed > 0) console.error(`reload-abuse: ${JSON.stringify(failures)}\n${output.slice(-2000)}`);
  return { scenario: 'reload-abuse', rewrites: validWritten + invalidWritten, valid: validWritten, invalid: invalidWritten, refusalLines: refusedLogged, convergedS, failures, ok: failed === 0 };
}

// ---- main ------------------------------------------------------------------------------

const chosen = options(process.argv.slice(2));
const results = [];
if (chosen.scenarios.includes('config-fuzz')) results.push(await configFuzz(chosen.short));
if (chosen.scenarios.includes('cli-input')) for (const backend of chosen.backends) results.push(await cliInput(backend, chosen.short));
if (chosen.scenarios.includes('reload-abuse')) results.push(await reloadAbuse(chosen.short));
for (const r of results) console.log(JSON.stringify(r));
const failed = results.filter((r) => !r.ok);
console.log(failed.length === 0 ? `chaos: ${results.length} scenario run(s), no loss, hang or stack trace` : `chaos: ${failed.length} of ${results.length} scenario run(s) failed`);
process.exitCode = failed.length === 0 ? 0 : 1;
