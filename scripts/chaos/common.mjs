// What the chaos scenarios share: the commands run as new processes, as an
// operator would, a daemon process ended by its pid whatever happens, and the
// valid configuration each scenario starts from.
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { stringify as stringifyYaml } from 'yaml';
import { withScratchDatabase } from '../scratch-database.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** A command that takes longer than this on any input hangs, as far as an operator is concerned. */
export const HANG_MS = 10_000;

/** `nodepool ARGS` as a new process: exit code, output, time; a run past HANG_MS is killed and counted as a hang. */
export function nodepool(args) {
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
export const hasStackTrace = (text) => /^\s+at .+\(.+:\d+:\d+\)$/m.test(text) || /^\s+at .+:\d+:\d+$/m.test(text);

export const VALID = {
  dburi: 'sqlite:///tmp/chaos.db',
  labels: [{ name: 'small', image: 'debian', 'min-ready': 1, providers: [{ name: 'fake-a' }] }],
  providers: [{ name: 'fake-a', driver: 'fake', 'max-servers': 4, images: [{ name: 'debian', 'min-ram': 1024 }] }],
  targets: [{ name: 'local' }],
  diskimages: [{ name: 'debian', elements: ['debian-minimal'] }],
};

/** A configuration file naming a scratch database of `backend`. */
export function withBackend(backend, fn) {
  return withScratchDatabase(backend, 'chaos', (dir, dburi) => {
    const configFile = join(dir, 'nodepool.yaml');
    writeFileSync(configFile, stringifyYaml({ ...VALID, dburi }));
    return fn(configFile);
  });
}

/** Every daemon a scenario started and has not seen exit: killed by pid if the suite itself ends early. */
const living = new Set();
process.on('exit', () => {
  for (const child of living) child.kill('SIGKILL');
});

/**
 * `nodepoold` or `nodepool-builder` with -d, as a process of its own
 * (node itself, so its pid is the daemon's), its output kept for the
 * report. `stop` sends a signal and waits for the exit, killing it after
 * `boundMs`; `kill` is the SIGKILL a crash is.
 */
export function startDaemon(program, args, { cwd = ROOT, env = {}, host } = {}) {
  const command = [process.execPath, join(ROOT, `bin/${program}.js`), '-d', ...args];
  // A host name of its own (a UTS namespace; root only): the daemon sees itself on another host. unshare and sh exec, so the pid stays node's.
  const argv = host ? ['unshare', '--uts', '--', 'sh', '-c', `hostname ${host} && exec "$0" "$@"`, ...command] : command;
  const child = spawn(argv[0], argv.slice(1), {
    cwd,
    env: { ...process.env, NODEPOOL_DBURI: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  living.add(child);
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((done) => child.on('exit', (code, signal) => {
    living.delete(child);
    done({ code, signal });
  }));
  return {
    pid: child.pid,
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
    output: () => output,
    async stop(signal = 'SIGTERM', boundMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      let timer;
      const late = new Promise((done) => (timer = setTimeout(() => done('late'), boundMs)));
      const result = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (result !== 'late') return result;
      child.kill('SIGKILL');
      return { ...(await exited), late: true };
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}

export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** Polls `check` every `everyMs` until it returns a truthy value (returned) or `boundMs` passes (undefined). */
export async function waitUntil(check, boundMs, everyMs = 250) {
  const until = performance.now() + boundMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (performance.now() > until) return undefined;
    await sleep(everyMs);
  }
}

/** `nodepool -c FILE ARGS --json` parsed, or undefined when the command fails. */
export async function nodepoolJson(configFile, ...args) {
  const run = await nodepool(['-c', configFile, ...args, '--json']);
  return run.code === 0 ? JSON.parse(run.stdout) : undefined;
}
