/**
 * nodepoold as a process for the benchmarks that talk to its status web
 * server (scripts/bench-web.mjs, scripts/bench-inspection.mjs): started
 * from bin/ with the web server on a free port, its log read for the port
 * and the nodes that are ready, stopped by its pid (SIGTERM, then SIGKILL
 * after 15 s), also when the script is interrupted or ends early.
 */
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STOP_BOUND_MS = 15_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A signal to one pid; a process already gone (ESRCH) is not an error. */
export function signalPid(pid, signal) {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if (err.code !== 'ESRCH') throw err;
  }
}

/** Daemons started and not yet seen to exit: sent SIGKILL by pid if this script ends early. */
const living = new Set();
process.on('exit', () => {
  for (const child of living) signalPid(child.pid, 'SIGKILL');
});
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    // Stop the daemon; the run in progress then fails and cleans up after itself.
    interrupted = true;
    for (const child of living) signalPid(child.pid, 'SIGTERM');
  });
}

/** Whether SIGINT or SIGTERM asked the script to stop. */
export const wasInterrupted = () => interrupted;

export class WebDaemon {
  constructor(configFile, logConfig) {
    // bin/nodepoold.js's shebang execs node, so the pid is the daemon's.
    this.child = spawn(join(ROOT, 'bin/nodepoold.js'), ['-d', '-c', configFile, '--no-builder', '-l', logConfig], {
      cwd: ROOT,
      env: { ...process.env, NODEPOOL_DBURI: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    living.add(this.child);
    this.pid = this.child.pid;
    this.ready = new Set();
    this.port = undefined;
    this.tail = [];
    this.exitCode = undefined;
    this.exited = new Promise((r) => this.child.on('exit', (code, signal) => {
      living.delete(this.child);
      this.exitCode = code ?? signal;
      r(this.exitCode);
    }));
    let buffer = '';
    const take = (chunk) => {
      buffer += chunk.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        this.tail.push(text);
        if (this.tail.length > 20) this.tail.shift();
        this.onLine(text);
      }
    };
    this.child.stdout.on('data', take);
    this.child.stderr.on('data', take);
  }

  onLine(text) {
    if (text.includes(' is ready"')) {
      const m = /"node":(\d+),"state":"ready"/.exec(text);
      if (m) this.ready.add(m[1]);
    } else if (this.port === undefined && text.includes('status web server listening on')) {
      let port;
      try {
        port = JSON.parse(text).port;
      } catch {
        // not JSON: the URL in the message
      }
      port ??= Number(/status web server listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1]);
      if (Number.isInteger(port) && port > 0) this.port = port;
    }
  }

  get running() {
    return this.exitCode === undefined;
  }

  async until(what, check, timeoutMs) {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (!this.running) throw new Error(`nodepoold exited (${this.exitCode}) while waiting for ${what}\n${this.tail.join('\n')}`);
      if (interrupted) throw new Error(`interrupted while waiting for ${what}`);
      if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.tail.join('\n')}`);
      await sleep(50);
    }
  }

  /** SIGTERM by pid; SIGKILL if it has not exited within 15 s. */
  async stop() {
    if (!this.running) return { code: this.exitCode, seconds: 0 };
    const t0 = performance.now();
    signalPid(this.pid, 'SIGTERM');
    let timer;
    const late = new Promise((r) => (timer = setTimeout(() => r('late'), STOP_BOUND_MS)));
    let code = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (code === 'late') {
      if (this.running) signalPid(this.pid, 'SIGKILL');
      code = `killed after ${STOP_BOUND_MS / 1000} s (${await this.exited})`;
    }
    return { code, seconds: (performance.now() - t0) / 1000 };
  }
}
