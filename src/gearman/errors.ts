/** What can go wrong talking to a Gearman server; every message names the server. */

/**
 * - `connection`: refused, reset, closed early, or the host cannot be reached;
 * - `timeout`: no answer within the bound given;
 * - `protocol`: the server sent something that is not the protocol;
 * - `server`: the server answered with an ERROR packet;
 * - `cancelled`: the caller aborted, or the worker was closed meanwhile.
 */
export type GearmanErrorKind = 'connection' | 'timeout' | 'protocol' | 'server' | 'cancelled';

export class GearmanError extends Error {
  constructor(
    readonly server: string,
    readonly kind: GearmanErrorKind,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`gearman ${server}: ${reason}`, options);
    this.name = 'GearmanError';
  }
}

/**
 * A job that ran and did not succeed: its worker sent WORK_FAIL, or
 * WORK_EXCEPTION with the exception's data (the server's `exceptions` option
 * is asked for, so the data reaches the client).
 */
export class GearmanJobFailed extends Error {
  constructor(
    readonly server: string,
    readonly fn: string,
    readonly handle: string,
    /** The exception's data; undefined for a plain WORK_FAIL. */
    readonly exception?: Buffer,
  ) {
    super(
      exception === undefined
        ? `gearman ${server}: job ${handle} of ${fn} failed`
        : `gearman ${server}: job ${handle} of ${fn} failed with an exception: ${excerpt(exception)}`,
    );
    this.name = 'GearmanJobFailed';
  }
}

/** The start of the exception's data, readable in one log line. */
function excerpt(data: Buffer): string {
  const text = data.toString('utf8');
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text);
}
