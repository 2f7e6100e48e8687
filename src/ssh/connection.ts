/**
 * One SSH connection as the launch steps need it: key loaded once, host key
 * recorded (and by default accepted, as upstream's paramiko AutoAddPolicy
 * did), every wait on the injected clock, and one typed error for every way a
 * connection can fail.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Client as SshClient } from 'ssh2';
import { systemClock, type Clock } from '../core/clock.js';
import { SshConnectionFailed, SshKeyUnusable, classifySshError, type SshTarget } from './errors.js';
import { ssh2Module } from './ssh2-module.js';

/**
 * `accept-any`: trust whatever key the new server shows (it was just made, so
 * there is nothing to compare with). `{ fingerprint }`: accept only that key,
 * e.g. the one recorded at launch, for later checks.
 */
export type HostKeyPolicy = 'accept-any' | { fingerprint: string };

export interface SshConnectionOptions {
  host: string;
  port?: number;
  username: string;
  /** A key file's path, or the key itself (PEM or OpenSSH text, or its bytes). */
  privateKey: string | Buffer;
  /** Longest wait for one connection to be authenticated. Default 10 s. */
  connectTimeoutMs?: number;
  hostKeyPolicy?: HostKeyPolicy;
  clock?: Clock;
  signal?: AbortSignal;
}

export interface HostKeyInfo {
  /** Key algorithm, e.g. `ssh-ed25519`. */
  type: string;
  /** OpenSSH style: `SHA256:` and the unpadded base64 of the key blob's digest. */
  fingerprint: string;
}

export interface LoadedKey {
  data: Buffer;
  /** Shown in messages instead of the key: its path, or `(inline)`. */
  source: string;
}

export interface OpenConnection {
  client: SshClient;
  hostKey: HostKeyInfo;
  /** Rejects with SshConnectionFailed when the connection drops (never resolves). */
  lost: Promise<never>;
}

export const DEFAULT_SSH_PORT = 22;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export function targetOf(options: SshConnectionOptions): SshTarget {
  return { host: options.host, port: options.port ?? DEFAULT_SSH_PORT, username: options.username };
}

function looksLikeKeyText(text: string): boolean {
  return /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text) || text.startsWith('PuTTY-User-Key-File');
}

/** Read (if a path) and parse the private key; errors name the path, never the content. */
export async function loadPrivateKey(privateKey: string | Buffer): Promise<LoadedKey> {
  let data: Buffer;
  let source: string;
  if (Buffer.isBuffer(privateKey)) {
    data = privateKey;
    source = '(inline)';
  } else if (looksLikeKeyText(privateKey)) {
    data = Buffer.from(privateKey, 'utf8');
    source = '(inline)';
  } else {
    source = privateKey;
    try {
      data = await readFile(privateKey);
    } catch (error) {
      throw new SshKeyUnusable(source, `cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const parsed = (await ssh2Module()).utils.parseKey(data);
  if (parsed instanceof Error) throw new SshKeyUnusable(source, parsed.message);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key?.isPrivateKey()) throw new SshKeyUnusable(source, 'not a private key');
  return { data, source };
}

export function hostKeyInfo(blob: Buffer): HostKeyInfo {
  const typeLength = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const type = typeLength > 0 && typeLength <= blob.length - 4 ? blob.subarray(4, 4 + typeLength).toString('latin1') : 'unknown';
  const digest = createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  return { type, fingerprint: `SHA256:${digest}` };
}

export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const error = new Error('the operation was aborted');
  error.name = 'AbortError';
  return error;
}

/** One attempt: connect, check the host key, authenticate. */
export async function openConnection(options: SshConnectionOptions, key: LoadedKey, timeoutMs: number): Promise<OpenConnection> {
  const ssh2 = await ssh2Module();
  const target = targetOf(options);
  const clock = options.clock ?? systemClock;
  const policy = options.hostKeyPolicy ?? 'accept-any';
  const { signal } = options;

  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const client = new ssh2.Client();
    let hostKey: HostKeyInfo | undefined;
    let hostKeyRefused = false;
    let settled = false;
    let onLost: (error: SshConnectionFailed) => void = () => {};
    const lost = new Promise<never>((_resolve, rejectLost) => {
      onLost = rejectLost;
    });
    lost.catch(() => {});

    const failure = (error: unknown): SshConnectionFailed => {
      if (hostKeyRefused) {
        const wanted = typeof policy === 'object' ? policy.fingerprint : '';
        return new SshConnectionFailed(target, 'host-key', `host key ${hostKey?.fingerprint ?? '?'} is not the expected ${wanted}`, { cause: error });
      }
      return new SshConnectionFailed(target, classifySshError(error), error instanceof Error ? error.message : String(error), { cause: error });
    };
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (error) {
        client.destroy();
        reject(error);
      } else {
        resolve({ client, hostKey: hostKey ?? { type: 'unknown', fingerprint: 'unknown' }, lost });
      }
    };
    const onAbort = (): void => finish(abortError(signal as AbortSignal));
    const timer = clock.setTimeout(
      () => finish(new SshConnectionFailed(target, 'timeout', `no authenticated session within ${timeoutMs} ms`)),
      timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });

    client.on('ready', () => finish());
    client.on('error', (error) => {
      if (settled) onLost(failure(error));
      else finish(failure(error));
    });
    client.on('close', () => {
      const error = new SshConnectionFailed(target, 'reset', 'connection closed');
      if (settled) onLost(error);
      else finish(error);
    });
    try {
      client.connect({
        host: target.host,
        port: target.port,
        username: target.username,
        privateKey: key.data,
        readyTimeout: 0, // our own timer, on the injected clock
        tryKeyboard: false,
        hostVerifier: (blob: Buffer) => {
          hostKey = hostKeyInfo(blob);
          if (policy === 'accept-any' || policy.fingerprint === hostKey.fingerprint) return true;
          hostKeyRefused = true;
          return false;
        },
      });
    } catch (error) {
      finish(failure(error));
    }
  });
}

/**
 * Open one connection (a single attempt), run `use`, and close. `use` fails
 * with SshConnectionFailed if the connection drops while it runs.
 */
export async function withConnection<T>(
  options: SshConnectionOptions,
  use: (connection: OpenConnection) => Promise<T>,
): Promise<T> {
  const key = await loadPrivateKey(options.privateKey);
  const connection = await openConnection(options, key, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  try {
    return await Promise.race([use(connection), connection.lost]);
  } finally {
    connection.client.end();
  }
}
