/**
 * One `status` request to a Gearman server (docs: interfaces.md, "Demand"):
 * the queue of every function the server knows, as it stands now.
 *
 * The admin protocol is one line of text in (`status\n`) and lines of text
 * out, ended by a line `.`; it is spoken here over node:net directly, since a
 * Gearman client library would bring a whole binary job protocol for one
 * text command.
 */
import { connect } from 'node:net';

/** Where a Gearman server listens (the shape of a `gearman-servers` entry). */
export interface GearmanServerAddress {
  host: string;
  port: number;
}

/** One line of the answer: `function<TAB>total<TAB>running<TAB>available workers`. */
export interface GearmanStatusRow {
  fn: string;
  /** Jobs the server holds for the function, the running ones included. */
  total: number;
  /** Jobs a worker has taken and not finished. */
  running: number;
  /** Workers connected that can run the function. */
  workers: number;
}

export interface GearmanStatusOptions {
  /** Bound on the connect, and again on the whole answer once connected. Default 5 s. */
  timeoutMs?: number;
  /** Aborting closes the connection at once and rejects. */
  signal?: AbortSignal;
}

export const DEFAULT_STATUS_TIMEOUT_MS = 5_000;

/**
 * A function name is at most 512 bytes in gearmand, so a line far longer than
 * that is not a status answer; without a bound, a server streaming bytes with
 * no newline would grow the buffer until the timeout.
 */
const MAX_LINE_LENGTH = 64 * 1024;

/** Why a server gave no usable status; the message names the server: `gearman 127.0.0.1:4730: ...`. */
export class GearmanStatusError extends Error {
  constructor(
    readonly server: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`gearman ${server}: ${reason}`, options);
    this.name = 'GearmanStatusError';
  }
}

/** A line of a status answer that is not `function<TAB>total<TAB>running<TAB>workers`. */
export class StatusLineError extends Error {
  constructor(
    readonly line: string,
    readonly problem: string,
  ) {
    super(`unreadable status line ${quoted(line)}: ${problem}`);
    this.name = 'StatusLineError';
  }
}

/** `host:port`, with an IPv6 address in brackets so the port stays readable. */
export function serverName(server: GearmanServerAddress): string {
  return server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** Reads one line of a status answer; throws a StatusLineError when it is not one. */
export function parseStatusRow(line: string): GearmanStatusRow {
  const fields = line.split('\t');
  if (fields.length !== 4) throw new StatusLineError(line, `expected 4 tab-separated fields, got ${fields.length}`);
  const [fn = '', total = '', running = '', workers = ''] = fields;
  if (fn === '') throw new StatusLineError(line, 'the function name is empty');
  return {
    fn,
    total: count(line, 'total', total),
    running: count(line, 'running', running),
    workers: count(line, 'available workers', workers),
  };
}

function count(line: string, field: string, text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) throw new StatusLineError(line, `${field} is not a whole number of 0 or more: ${quoted(text)}`);
  return value;
}

/**
 * Asks one server for its status. Resolves with the rows in the server's order;
 * rejects with a GearmanStatusError for a refused or failed connection, a
 * timeout, a connection closed before the `.` line, or a line that does not
 * parse. The socket is destroyed whichever way the request ends.
 */
export function gearmanStatus(server: GearmanServerAddress, options: GearmanStatusOptions = {}): Promise<GearmanStatusRow[]> {
  const { timeoutMs = DEFAULT_STATUS_TIMEOUT_MS, signal } = options;
  const name = serverName(server);
  if (signal?.aborted) return Promise.reject(new GearmanStatusError(name, 'the request was cancelled'));

  return new Promise((resolve, reject) => {
    const rows: GearmanStatusRow[] = [];
    let pending = '';
    let settled = false;
    const socket = connect({ host: server.host, port: server.port });
    socket.setEncoding('utf8');

    const finish = (error?: GearmanStatusError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve(rows);
    };
    const fail = (reason: string, cause?: unknown) => finish(new GearmanStatusError(name, reason, cause === undefined ? undefined : { cause }));
    const onAbort = () => fail('the request was cancelled');
    signal?.addEventListener('abort', onAbort, { once: true });

    let timer = setTimeout(() => fail(`no connection within ${timeoutMs} ms`), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(`no complete status answer within ${timeoutMs} ms (${linesRead(rows)})`), timeoutMs);
      socket.write('status\n');
    });

    socket.on('data', (chunk: string) => {
      pending += chunk;
      let newline: number;
      while (!settled && (newline = pending.indexOf('\n')) >= 0) {
        // gearmand ends lines with \n alone; a \r before it is tolerated, not required.
        const line = pending.slice(0, newline).replace(/\r$/, '');
        pending = pending.slice(newline + 1);
        if (line === '.') {
          finish();
          return;
        }
        if (line.startsWith('ERR ')) {
          fail(`the server refused the status command: ${quoted(line)}`);
          return;
        }
        try {
          rows.push(parseStatusRow(line));
        } catch (err) {
          fail((err as Error).message, err);
          return;
        }
      }
      if (pending.length > MAX_LINE_LENGTH) fail(`a status line longer than ${MAX_LINE_LENGTH} characters`);
    });

    socket.on('error', (err: NodeJS.ErrnoException) => fail(describeSocketError(err), err));
    socket.on('close', () => fail(`the connection closed before the end of the status answer (${linesRead(rows)})`));
  });
}

function describeSocketError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ECONNRESET': return 'connection reset by the server';
    case 'ENOTFOUND': return 'host not found';
    case 'EHOSTUNREACH': return 'host unreachable';
    case 'ENETUNREACH': return 'network unreachable';
    default: return err.code ? `${err.message} (${err.code})` : err.message;
  }
}

function linesRead(rows: readonly GearmanStatusRow[]): string {
  return rows.length === 1 ? '1 line read' : `${rows.length} lines read`;
}

/** A line as JSON (tabs and control characters visible), cut short when long. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text);
}
