/**
 * Runs one disk-image-create and judges it the way docs/behaviour.md, "Images"
 * does: exit 0 and every requested file present, or failed.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, writeFileSync, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../log/index.js';
import { systemClock, type Clock } from '../core/clock.js';
import { removeBuildOutput } from './build-files.js';
import { fileExtension, type DibInvocation } from './command.js';

export type DibFailureReason = 'exit' | 'timeout' | 'aborted' | 'missing-output' | 'spawn';

export interface DibFormat {
  type: string;
  path: string;
  size: number;
  md5?: string;
  sha256?: string;
}

export interface DibResult {
  ok: boolean;
  exitCode: number | null;
  /** Set when the process ended through a signal (ours on timeout, or anyone's). */
  signal?: NodeJS.Signals | null;
  reason?: DibFailureReason;
  /** For an operator: why the build failed. */
  message?: string;
  formats: DibFormat[];
  logFile: string;
  durationMs: number;
  pid?: number;
}

export interface RunOptions {
  logger: Logger;
  /** Every output line is appended here; kept on failure. */
  logFile: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Between SIGTERM and SIGKILL of the process group. */
  killGraceMs?: number;
  /** The build's duration and its timeout are on this clock (the SIGTERM-to-SIGKILL grace is the OS's real time). */
  clock?: Clock;
  /**
   * Holds the tool's process group id while it runs. The tool runs in its own
   * group and outlives a builder killed with SIGKILL; the next build into the
   * same output stops it first (stopLeftoverBuild).
   */
  pidFile?: string;
}

const DEFAULT_KILL_GRACE_MS = 10_000;

export async function runDiskImageCreate(invocation: DibInvocation, options: RunOptions): Promise<DibResult> {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  await mkdir(dirname(options.logFile), { recursive: true });
  const log = createWriteStream(options.logFile, { flags: 'a' });
  log.on('error', (err) => options.logger.warn({ err, logFile: options.logFile }, 'cannot write the build log'));
  options.logger.info(
    { command: invocation.command, args: invocation.args, outputBase: invocation.outputBase },
    `running ${[invocation.command, ...invocation.args].join(' ')}`,
  );

  const ended = await runProcess(invocation, options, log);
  // Whatever the tool started must stop writing before its files are removed.
  if (ended.reason === 'timeout' || ended.reason === 'aborted') await groupGone(ended.pid);
  if (options.pidFile) await rm(options.pidFile, { force: true });
  const base = { logFile: options.logFile, pid: ended.pid, exitCode: ended.exitCode, signal: ended.signal };
  let result: DibResult;
  if (ended.reason) {
    result = { ...base, ok: false, reason: ended.reason, message: ended.message, formats: [], durationMs: 0 };
  } else {
    const found = await collectFormats(invocation);
    result = found.missing.length > 0
      ? {
          ...base, ok: false, reason: 'missing-output', formats: [], durationMs: 0,
          message: `disk-image-create exited 0 but wrote no ${found.missing.join(', ')}`,
        }
      : { ...base, ok: true, formats: found.formats, durationMs: 0 };
  }

  if (!result.ok) {
    writeLine(log, `nodepool: build failed (${result.reason}): ${result.message}`);
    await removeBuildOutput(invocation.outputBase, { keep: options.logFile });
    // A build cancelled by a stop is routine: it is redone.
    const level = result.reason === 'aborted' ? 'warn' : 'error';
    options.logger[level]({ reason: result.reason, exitCode: result.exitCode, logFile: options.logFile }, result.message);
  }
  await closeLog(log);
  result.durationMs = clock.now() - started;
  if (result.ok) options.logger.info({ formats: result.formats, durationMs: result.durationMs }, 'image build complete');
  return result;
}

interface Ended {
  pid?: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  reason?: 'exit' | 'timeout' | 'aborted' | 'spawn';
  message?: string;
}

function runProcess(invocation: DibInvocation, options: RunOptions, log: WriteStream): Promise<Ended> {
  const clock = options.clock ?? systemClock;
  return new Promise((resolvePromise) => {
    let settled = false;
    let killedFor: 'timeout' | 'aborted' | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const finish = (ended: Ended) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timeoutTimer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      resolvePromise(ended);
    };

    let child: ReturnType<typeof spawn>;
    try {
      // detached: its own process group, so a timeout kills the tool's children too.
      child = spawn(invocation.command, invocation.args, {
        env: invocation.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
      });
    } catch (err) {
      finish({ exitCode: null, signal: null, reason: 'spawn', message: spawnMessage(invocation.command, err) });
      return;
    }
    if (options.pidFile && child.pid !== undefined) writeFileSync(options.pidFile, `${child.pid}\n`);

    const killGroup = (why: 'timeout' | 'aborted') => {
      if (killedFor || child.pid === undefined) return;
      killedFor = why;
      signalGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child.pid as number, 'SIGKILL'), options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
    };
    const timeoutTimer = clock.setTimeout(() => killGroup('timeout'), options.timeoutMs);
    const onAbort = () => killGroup('aborted');
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });

    for (const stream of ['stdout', 'stderr'] as const) {
      forEachLine(child[stream]!, (line) => {
        options.logger.info({ stream }, line);
        writeLine(log, line);
      });
    }
    child.on('error', (err) => {
      finish({ pid: child.pid, exitCode: null, signal: null, reason: 'spawn', message: spawnMessage(invocation.command, err) });
    });
    child.on('close', (exitCode, signal) => {
      if (killedFor) {
        const message = killedFor === 'timeout'
          ? `disk-image-create did not finish within ${options.timeoutMs} ms and was killed`
          : 'disk-image-create was stopped (build cancelled)';
        finish({ pid: child.pid, exitCode, signal, reason: killedFor, message });
      } else if (exitCode === 0) {
        finish({ pid: child.pid, exitCode, signal });
      } else {
        const how = exitCode === null ? `was killed by ${signal}` : `exited ${exitCode}`;
        finish({ pid: child.pid, exitCode, signal, reason: 'exit', message: `disk-image-create ${how}; see ${options.logFile}` });
      }
    });
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/**
 * Stops a tool left running by an earlier builder process (killed with
 * SIGKILL, so its disk-image-create kept going) before its output path is
 * used again. True if one was running.
 */
export async function stopLeftoverBuild(pidFile: string): Promise<boolean> {
  const text = await readFile(pidFile, 'utf8').catch(() => undefined);
  await rm(pidFile, { force: true });
  const pgid = Number(text?.trim());
  if (!Number.isInteger(pgid) || pgid <= 1 || (await liveGroupMembers(pgid)) === 0) return false;
  await groupGone(pgid, 10_000);
  return true;
}

async function groupGone(pid: number | undefined, waitMs = 2_000): Promise<void> {
  if (pid === undefined) return;
  const deadline = Date.now() + waitMs;
  signalGroup(pid, 'SIGKILL');
  while (Date.now() < deadline && (await liveGroupMembers(pid)) > 0) await new Promise((r) => setTimeout(r, 25));
}

/**
 * Processes of a group that still run. Zombies do not count: an orphan's
 * zombie waits for init to reap it, which in a container may take long.
 */
export async function liveGroupMembers(pgid: number): Promise<number> {
  const entries = await readdir('/proc').catch(() => undefined);
  if (entries === undefined) {
    try {
      process.kill(-pgid, 0);
      return 1;
    } catch {
      return 0;
    }
  }
  let live = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[2] === String(pgid) && fields[0] !== 'Z' && fields[0] !== 'X') live += 1;
  }
  return live;
}

function spawnMessage(command: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `cannot start ${command}: not found (is diskimage-builder installed? see docs/diskimage-builder.md)`;
  if (code === 'EACCES') return `cannot start ${command}: not executable`;
  return `cannot start ${command}: ${(err as Error).message}`;
}

function forEachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) onLine(part.replace(/\r$/, ''));
  });
  stream.on('end', () => {
    if (pending !== '') onLine(pending.replace(/\r$/, ''));
    pending = '';
  });
}

function writeLine(log: WriteStream, line: string): void {
  if (!log.destroyed) log.write(`${line}\n`);
}

function closeLog(log: WriteStream): Promise<void> {
  return new Promise((done) => {
    if (log.destroyed) return done();
    log.end(() => done());
    log.once('error', () => done());
  });
}

async function collectFormats(invocation: DibInvocation): Promise<{ formats: DibFormat[]; missing: string[] }> {
  const formats: DibFormat[] = [];
  const missing: string[] = [];
  for (const type of invocation.types) {
    const ext = fileExtension(type);
    if (ext === undefined) continue;
    const path = `${invocation.outputBase}.${ext}`;
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) {
      missing.push(path);
      continue;
    }
    formats.push({ type, path, size: info.size, ...(await checksumsOf(path)) });
  }
  return { formats, missing };
}

/**
 * The tool's own checksum files when it wrote them (qcow2, raw, vhd);
 * otherwise one streaming pass over the file computes both.
 */
export async function checksumsOf(path: string): Promise<{ md5: string; sha256: string }> {
  const md5 = await readChecksumFile(`${path}.md5`, 32);
  const sha256 = await readChecksumFile(`${path}.sha256`, 64);
  if (md5 && sha256) return { md5, sha256 };
  const computed = await computeChecksums(path);
  return { md5: md5 ?? computed.md5, sha256: sha256 ?? computed.sha256 };
}

async function readChecksumFile(path: string, hexLength: number): Promise<string | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  const first = text?.trim().split(/\s+/)[0]?.toLowerCase();
  return first && first.length === hexLength && /^[0-9a-f]+$/.test(first) ? first : undefined;
}

export function computeChecksums(path: string): Promise<{ md5: string; sha256: string }> {
  return new Promise((done, fail) => {
    const md5 = createHash('md5');
    const sha256 = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => {
        md5.update(chunk);
        sha256.update(chunk);
      })
      .on('end', () => done({ md5: md5.digest('hex'), sha256: sha256.digest('hex') }))
      .on('error', fail);
  });
}
