/**
 * Typed SSH errors. Each says which host, port and user were tried and what
 * went wrong, so an operator can act; none ever carries key material (keys are
 * named by their file path, or as "inline").
 */
import { NodepoolError } from '../core/errors.js';

/** What an SSH attempt ran into, fine grained (for logs and retry decisions). */
export type SshErrorKind =
  | 'refused'
  | 'unreachable'
  | 'reset'
  | 'timeout'
  | 'auth'
  | 'host-key'
  | 'protocol'
  | 'aborted'
  | 'other';

/** The launch failure reasons docs/behaviour.md counts, as far as SSH can cause them. */
export type SshFailureReason = 'network' | 'timeout' | 'auth' | 'other';

export interface SshTarget {
  host: string;
  port: number;
  username: string;
}

function where(target: SshTarget): string {
  return `${target.username}@${target.host}:${target.port}`;
}

/** The private key could not be read or parsed: a configuration problem, never retried. */
export class SshKeyUnusable extends NodepoolError {
  override readonly name = 'SshKeyUnusable';
  constructor(
    /** The key file's path, or `(inline)` for a key given as text. */
    readonly keySource: string,
    readonly reason: string,
  ) {
    super('NP_SSH_KEY', `private key ${keySource} is unusable: ${reason}`);
  }
}

/** One connection attempt failed (used by the single-connection operations and as `lastError`). */
export class SshConnectionFailed extends NodepoolError {
  override readonly name = 'SshConnectionFailed';
  constructor(
    readonly target: SshTarget,
    readonly kind: SshErrorKind,
    /** What happened, without the host (e.g. `connect ECONNREFUSED 127.0.0.1:22`). */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super('NP_SSH_FAILED', `ssh to ${where(target)} failed (${kind}): ${detail}`, options);
  }
}

/** The SSH check did not succeed before its deadline (or hit an error not worth retrying). */
export class SshCheckFailed extends NodepoolError {
  override readonly name = 'SshCheckFailed';
  readonly reason: SshFailureReason;
  constructor(
    readonly target: SshTarget,
    readonly attempts: number,
    readonly elapsedMs: number,
    readonly lastError: SshConnectionFailed,
  ) {
    super('NP_SSH_FAILED', 
      `ssh check of ${where(target)} failed after ${attempts} attempt${attempts === 1 ? '' : 's'} ` +
        `in ${Math.round(elapsedMs / 1000)} s; last error (${lastError.kind}): ${lastError.detail}`,
      { cause: lastError },
    );
    this.reason = failureReason(lastError.kind);
  }
}

/** Writing a node-set file (or making its directory) over SFTP failed. */
export class SftpWriteFailed extends NodepoolError {
  override readonly name = 'SftpWriteFailed';
  constructor(
    readonly target: SshTarget,
    readonly path: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super('NP_SSH_FAILED', `sftp write of ${path} on ${where(target)} failed: ${reason}`, options);
  }
}

/** The ready script exited non-zero, was killed by a signal, or ran past its time limit. */
export class ReadyScriptFailed extends NodepoolError {
  override readonly name = 'ReadyScriptFailed';
  constructor(
    readonly target: SshTarget,
    readonly script: string,
    /** Exit status, or null when the script ended by a signal or never ended. */
    readonly exitCode: number | null,
    readonly signal: string | null,
    /** The last lines of output (stdout and stderr interleaved as received). */
    readonly lastLines: readonly string[],
    timedOutAfterMs?: number,
  ) {
    const how =
      timedOutAfterMs !== undefined
        ? `did not finish within ${Math.round(timedOutAfterMs / 1000)} s`
        : exitCode !== null
          ? `exited with status ${exitCode}`
          : signal !== null
            ? `was ended by signal ${signal}`
            : 'ended without an exit status (connection closed?)';
    const tail = lastLines.length > 0 ? `; last output:\n${lastLines.join('\n')}` : '; no output';
    super('NP_READY_SCRIPT', `ready script ${script} on ${where(target)} ${how}${tail}`);
  }
}

export function failureReason(kind: SshErrorKind): SshFailureReason {
  switch (kind) {
    case 'auth':
    case 'host-key':
      return 'auth';
    case 'timeout':
      return 'timeout';
    case 'refused':
    case 'unreachable':
    case 'reset':
    case 'protocol':
      return 'network';
    default:
      return 'other';
  }
}

/** Sort a raw error from the socket or ssh2 into a kind. */
export function classifySshError(error: unknown): SshErrorKind {
  if (!(error instanceof Error)) return 'other';
  const code = (error as NodeJS.ErrnoException).code;
  const level = (error as { level?: string }).level;
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EHOSTDOWN' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return 'unreachable';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') return 'reset';
  if (code === 'ETIMEDOUT' || level === 'client-timeout') return 'timeout';
  if (level === 'client-authentication') return 'auth';
  if (level === 'protocol' || level === 'handshake' || level === 'client-socket') return 'protocol';
  if (error.name === 'AbortError') return 'aborted';
  return 'other';
}
