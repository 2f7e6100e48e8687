/**
 * Launch step 7 (and the periodic `check`): can we log in to the node yet?
 * Retries every `retryIntervalMs` until the deadline, because a booting
 * server refuses connections, resets them, or rejects the key until sshd and
 * cloud-init are done.
 */
import type { Client as SshClient } from 'ssh2';
import { systemClock, type Clock } from '../core/clock.js';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  abortError,
  loadPrivateKey,
  openConnection,
  targetOf,
  type HostKeyInfo,
  type SshConnectionOptions,
} from './connection.js';
import { SshCheckFailed, SshConnectionFailed, classifySshError, type SshTarget } from './errors.js';

export interface SshCheckOptions extends SshConnectionOptions {
  /** Absolute time (ms since the epoch, on `clock`) after which no new attempt starts. */
  deadline: number;
  /** Pause between attempts. Default 2 s (upstream's). */
  retryIntervalMs?: number;
  /** Told about every failed attempt that will be retried (for logs). */
  onRetry?: (attempt: number, error: SshConnectionFailed) => void;
}

export interface SshCheckResult {
  hostKey: HostKeyInfo;
  attempts: number;
  elapsedMs: number;
}

export const DEFAULT_RETRY_INTERVAL_MS = 2_000;

/** Kinds where waiting cannot help. */
const FINAL_KINDS = new Set(['host-key', 'aborted']);

/**
 * Connect, authenticate with the key, run `true`, close. At least one attempt
 * is always made (with the full connect timeout), so `deadline: clock.now()`
 * means "try once". Later attempts never run past the deadline.
 */
export async function checkSsh(options: SshCheckOptions): Promise<SshCheckResult> {
  const clock = options.clock ?? systemClock;
  const target = targetOf(options);
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const retryIntervalMs = options.retryIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS;
  const key = await loadPrivateKey(options.privateKey);
  const started = clock.now();
  let lastError: SshConnectionFailed | undefined;

  for (let attempt = 1; ; attempt++) {
    const remaining = options.deadline - clock.now();
    const timeoutMs = attempt === 1 && remaining <= 0 ? connectTimeoutMs : Math.min(connectTimeoutMs, remaining);
    try {
      const connection = await openConnection(options, key, timeoutMs);
      try {
        await Promise.race([runTrue(connection.client, target), connection.lost]);
      } finally {
        connection.client.end();
      }
      return { hostKey: connection.hostKey, attempts: attempt, elapsedMs: clock.now() - started };
    } catch (error) {
      if (options.signal?.aborted) throw abortError(options.signal);
      const failure = asConnectionFailed(error, target);
      // An attempt cut short by the deadline says nothing new: keep the earlier, telling error.
      const cutShort = failure.kind === 'timeout' && timeoutMs < connectTimeoutMs && lastError !== undefined;
      if (!cutShort) lastError = failure;
    }
    const reported = lastError as SshConnectionFailed;
    const fail = (): SshCheckFailed => new SshCheckFailed(target, attempt, clock.now() - started, reported);
    if (FINAL_KINDS.has(reported.kind) || clock.now() >= options.deadline) throw fail();
    options.onRetry?.(attempt, reported);
    await sleep(clock, Math.min(retryIntervalMs, options.deadline - clock.now()), options.signal);
    if (clock.now() >= options.deadline) throw fail();
  }
}

function asConnectionFailed(error: unknown, target: SshTarget): SshConnectionFailed {
  if (error instanceof SshConnectionFailed) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new SshConnectionFailed(target, classifySshError(error), detail, { cause: error });
}

function runTrue(client: SshClient, target: SshTarget): Promise<void> {
  return new Promise((resolve, reject) => {
    client.exec('true', (error, channel) => {
      if (error) {
        reject(new SshConnectionFailed(target, 'other', `cannot run a command: ${error.message}`, { cause: error }));
        return;
      }
      let code: number | null = null;
      channel.on('exit', (exitCode: number | null) => {
        code = exitCode;
      });
      channel.on('close', () => {
        if (code === 0) resolve();
        else reject(new SshConnectionFailed(target, 'other', `'true' exited with status ${code ?? 'unknown'}`));
      });
      channel.resume();
      channel.stderr.resume();
      channel.end();
    });
  });
}

function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(abortError(signal as AbortSignal));
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
