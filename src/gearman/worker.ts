/**
 * A Gearman worker that takes a job only when asked: `grabJob(fns)` makes
 * the functions it can do exactly `fns` (CAN_DO, CANT_DO), asks for one job
 * (GRAB_JOB) and resolves with it, or with undefined when none of them is
 * queued (NO_JOB). It never sleeps on the server (no PRE_SLEEP), so the
 * server never hands it work it did not ask for: a caller grabs a job when
 * it has what the job needs.
 *
 * One connection, opened at the first grab and again after a failure; its
 * exchanges go one at a time. A job is answered on the connection it came
 * on (the server ties the job to it): when that connection is lost before
 * the answer, the server queues the job again for another worker, and the
 * answer is refused here.
 */
import { DEFAULT_CONNECT_TIMEOUT_MS, GearmanConnection, serverName, unexpected, type GearmanAddress } from './connection.js';
import { GearmanError } from './errors.js';
import { PACKET } from './packet.js';

export interface GearmanJob {
  /** The server's name for the job. */
  readonly handle: string;
  /** The function it was submitted for. */
  readonly fn: string;
  readonly payload: Buffer;
  /** WORK_COMPLETE with `data`; resolves once the server has taken it. */
  complete(data?: string | Buffer): Promise<void>;
  /** WORK_FAIL; resolves once the server has taken it. */
  fail(): Promise<void>;
}

export interface GearmanWorkerOptions {
  /** Bound on each exchange with the server (a grab, an answer), connecting included. Default 5 s. */
  timeoutMs?: number;
  /** How the server's `workers` command names this worker. */
  clientId?: string;
}

export const DEFAULT_WORKER_TIMEOUT_MS = 5_000;

export class GearmanWorker {
  private connection: GearmanConnection | undefined;
  /** The functions the server knows this worker can do, on the current connection. */
  private abilities = new Set<string>();
  /** Exchanges go one at a time: each answer is read in the order of the requests. */
  private turn: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly address: GearmanAddress,
    private readonly options: GearmanWorkerOptions = {},
  ) {}

  /** One queued job of one of `fns`, taken off the queue; undefined when none is queued (or `fns` is empty). */
  grabJob(fns: readonly string[]): Promise<GearmanJob | undefined> {
    return this.inTurn(async (deadline) => {
      const connection = await this.connected(deadline);
      await this.canDoExactly(connection, fns);
      if (fns.length === 0) return undefined;
      await connection.send(PACKET.GRAB_JOB);
      const answer = await connection.receive(deadline, 'an answer to GRAB_JOB');
      if (answer.type === PACKET.NO_JOB) return undefined;
      if (answer.type !== PACKET.JOB_ASSIGN) throw unexpected(connection.server, answer, 'JOB_ASSIGN or NO_JOB');
      const [handle, fn, payload] = answer.args;
      return this.job(connection, handle?.toString('utf8') ?? '', fn?.toString('utf8') ?? '', payload ?? Buffer.alloc(0));
    });
  }

  /** Closes the connection; the jobs not yet answered go back to the server's queue. */
  close(): void {
    this.closed = true;
    this.connection?.close();
    this.connection = undefined;
  }

  private job(connection: GearmanConnection, handle: string, fn: string, payload: Buffer): GearmanJob {
    let answered = false;
    const answer = async (type: typeof PACKET.WORK_COMPLETE | typeof PACKET.WORK_FAIL, args: (string | Buffer)[]): Promise<void> => {
      if (answered) throw new Error(`job ${handle} of ${fn} was already answered`);
      answered = true;
      const lost = await this.inTurn(async (deadline) => {
        // Returned, not thrown: the connection in use now is not at fault and stays.
        if (connection !== this.connection || connection.closed) {
          return new GearmanError(connection.server, 'connection', `the connection job ${handle} of ${fn} came on was lost; the server queues the job again`);
        }
        await connection.send(type, args);
        // Nothing answers WORK_COMPLETE or WORK_FAIL: an echo after it says the server has read it.
        await connection.send(PACKET.ECHO_REQ, [handle]);
        const echo = await connection.receive(deadline, 'ECHO_RES');
        if (echo.type !== PACKET.ECHO_RES) throw unexpected(connection.server, echo, 'ECHO_RES');
        return undefined;
      });
      if (lost) throw lost;
    };
    return {
      handle,
      fn,
      payload,
      complete: (data = Buffer.alloc(0)) => answer(PACKET.WORK_COMPLETE, [handle, data]),
      fail: () => answer(PACKET.WORK_FAIL, [handle]),
    };
  }

  /**
   * Runs one exchange after the ones before it, within the worker's bound.
   * A failed exchange drops the connection: what it was in the middle of is
   * unknown, and the next exchange starts on a new one.
   */
  private inTurn<T>(exchange: (deadline: number) => Promise<T>): Promise<T> {
    const run = this.turn.then(async () => {
      if (this.closed) throw new GearmanError(serverName(this.address), 'cancelled', 'the worker is closed');
      try {
        return await exchange(Date.now() + (this.options.timeoutMs ?? DEFAULT_WORKER_TIMEOUT_MS));
      } catch (err) {
        this.connection?.close();
        this.connection = undefined;
        throw err;
      }
    });
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async connected(deadline: number): Promise<GearmanConnection> {
    if (this.connection && !this.connection.closed) return this.connection;
    const connectTimeoutMs = Math.max(1, Math.min(DEFAULT_CONNECT_TIMEOUT_MS, deadline - Date.now()));
    const connection = await GearmanConnection.open(this.address, connectTimeoutMs);
    if (this.closed) {
      connection.close();
      throw new GearmanError(connection.server, 'cancelled', 'the worker is closed');
    }
    if (this.options.clientId !== undefined) await connection.send(PACKET.SET_CLIENT_ID, [this.options.clientId]);
    this.connection = connection;
    this.abilities = new Set();
    return connection;
  }

  /** CAN_DO for the functions new to the list, CANT_DO for those that left it; neither is answered. */
  private async canDoExactly(connection: GearmanConnection, fns: readonly string[]): Promise<void> {
    const wanted = new Set(fns);
    for (const fn of this.abilities) {
      if (wanted.has(fn)) continue;
      await connection.send(PACKET.CANT_DO, [fn]);
      this.abilities.delete(fn);
    }
    for (const fn of wanted) {
      if (this.abilities.has(fn)) continue;
      await connection.send(PACKET.CAN_DO, [fn]);
      this.abilities.add(fn);
    }
  }
}
