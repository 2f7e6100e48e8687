import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { PROJECT_ROOT } from './cli.js';

/** Polls `check` until it returns a truthy value, at most `timeoutMs`; never a blind sleep. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  { timeoutMs = 20_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface LogLine {
  level: string;
  name: string;
  msg: string;
  [key: string]: unknown;
}

/** A daemon running as a real process, its JSON log lines collected as they come. */
export class RunningDaemon {
  readonly lines: LogLine[] = [];
  readonly rawStderr: string[] = [];
  private readonly exited: Promise<number | null>;
  exitCode: number | null | undefined;

  constructor(readonly process: ChildProcess) {
    let buffer = '';
    const take = (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.rawStderr.push(line);
        }
      }
    };
    process.stdout?.on('data', take);
    process.stderr?.on('data', take);
    this.exited = new Promise((resolve) => {
      process.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? null : code);
        resolve(code);
      });
    });
  }

  get pid(): number {
    return this.process.pid as number;
  }

  /** The last log lines, for a failing test's report. */
  tail(count = 40): string {
    return this.lines.slice(-count).map((l) => JSON.stringify(l)).concat(this.rawStderr.slice(-5)).join('\n');
  }

  /** Waits for a log line matching `predicate`. */
  waitForLog(what: string, predicate: (line: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
    return waitFor(what, () => this.lines.find(predicate), { timeoutMs });
  }

  /** Sends a signal and waits for the exit, bounded. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    this.process.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`daemon did not exit within ${timeoutMs} ms of ${signal}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL: no chance to persist anything (the crash the restore must survive). */
  async kill(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.process.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * Starts `nodepoold -d -c FILE ...` from the compiled output. Without
 * `webapp: true` it runs with --no-webapp: tests run side by side, and each
 * would otherwise take the default port 8005.
 */
export function startNodepoold(args: readonly string[], env: NodeJS.ProcessEnv = {}, options: { webapp?: boolean } = {}): RunningDaemon {
  return startCompiled('nodepoold', options.webapp ? args : [...args, '--no-webapp'], env);
}

/** Starts `nodepool-builder -d -c FILE ...` from the compiled output; with --no-webapp unless `webapp: true`, as nodepoold (its port is 8006). */
export function startBuilder(args: readonly string[], env: NodeJS.ProcessEnv = {}, options: { webapp?: boolean } = {}): RunningDaemon {
  return startCompiled('nodepool-builder', options.webapp ? args : [...args, '--no-webapp'], env);
}

function startCompiled(program: 'nodepoold' | 'nodepool-builder', args: readonly string[], env: NodeJS.ProcessEnv): RunningDaemon {
  const compiled = `${PROJECT_ROOT}dist/src/cli/${program}.js`;
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, [`${PROJECT_ROOT}bin/${program}.js`, '-d', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, NODEPOOL_DBURI: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new RunningDaemon(child);
}

/**
 * A logging configuration (for `-l`) that shows the allocation's runs, and
 * the environment that runs it every second: a test sees a run that came
 * after what it waits for, rather than trusting a line written before.
 */
export function allocationWatch(dir: string): { args: string[]; env: NodeJS.ProcessEnv } {
  const file = `${dir}/logging.yaml`;
  writeFileSync(file, 'level: info\nloggers:\n  nodepool.NodePool: debug\n');
  return { args: ['-l', file], env: { NODEPOOL_ALLOCATE_SECONDS: '1' } };
}

/** True for the line of an allocation run that launched nothing. */
export const idleAllocation = (line: LogLine) => /^allocation: nothing to launch/.test(line.msg);

/** Waits for an allocation run logged after line `index` (a run that saw everything before it). */
export function allocationAfter(daemon: RunningDaemon, index: number, timeoutMs = 10_000): Promise<LogLine> {
  return waitFor('an allocation run after that', () => daemon.lines.slice(index + 1).find(idleAllocation), { timeoutMs });
}
