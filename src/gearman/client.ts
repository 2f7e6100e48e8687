/**
 * A Gearman client (gearman.org, "Protocol"): submits a job and waits for
 * its worker's answer, or queues a background job and leaves it.
 *
 * Each submission has a connection of its own, opened for it and destroyed
 * when it ends, whichever way: the callers (nodepoold assigning a node to a
 * target, a simulator queueing runs) submit a few jobs a second at most, so
 * a connection per job costs nothing and leaves no state to repair after a
 * failure.
 *
 * Written over node:net rather than with an npm client: the `gearman`
 * package (2.1.0) and `node-gearman` are unmaintained CommonJS event
 * emitters without types, timeouts or matching of answers to jobs, and the
 * first depends on `binary` and `put`, abandoned for a decade; the part of
 * the protocol needed here is a dozen packet types.
 */
import { randomUUID } from 'node:crypto';
import { DEFAULT_CONNECT_TIMEOUT_MS, GearmanConnection, unexpected, type GearmanAddress } from './connection.js';
import { GearmanJobFailed } from './errors.js';
import { PACKET } from './packet.js';

export interface SubmitJobOptions {
  /** Bound on the whole job: connecting, queueing, waiting for a worker and its answer. Default 30 s. */
  timeoutMs?: number;
}

export interface SubmitBackgroundJobOptions {
  /** Bound on connecting and queueing. Default 5 s. */
  timeoutMs?: number;
}

export const DEFAULT_JOB_TIMEOUT_MS = 30_000;
export const DEFAULT_QUEUE_TIMEOUT_MS = 5_000;

export class GearmanClient {
  constructor(
    readonly address: GearmanAddress,
    private readonly options: { connectTimeoutMs?: number } = {},
  ) {}

  /**
   * Runs `fn` with `payload` on a worker and resolves with the data of its
   * WORK_COMPLETE. Rejects with GearmanJobFailed on WORK_FAIL or
   * WORK_EXCEPTION, and with a GearmanError when the server cannot be
   * reached, refuses the job or the time runs out; a job that timed out may
   * still run on its worker, but its answer is lost.
   */
  async submitJob(fn: string, payload: string | Buffer, options: SubmitJobOptions = {}): Promise<Buffer> {
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_JOB_TIMEOUT_MS);
    const connection = await this.connect(deadline);
    try {
      // Without this option the server turns a worker's WORK_EXCEPTION into a bare WORK_FAIL.
      await connection.send(PACKET.OPTION_REQ, ['exceptions']);
      const option = await connection.receive(deadline, 'OPTION_RES');
      if (option.type !== PACKET.OPTION_RES) throw unexpected(connection.server, option, 'OPTION_RES');
      const handle = await this.queue(connection, PACKET.SUBMIT_JOB, fn, payload, deadline);
      for (;;) {
        const packet = await connection.receive(deadline, `the answer to job ${handle} of ${fn}`);
        const [about, data] = packet.args;
        // Status, data and warnings on the way are not the answer; the answers of other jobs cannot come on this connection.
        if (about?.toString('utf8') !== handle) continue;
        if (packet.type === PACKET.WORK_COMPLETE) return data ?? Buffer.alloc(0);
        if (packet.type === PACKET.WORK_FAIL) throw new GearmanJobFailed(connection.server, fn, handle);
        if (packet.type === PACKET.WORK_EXCEPTION) throw new GearmanJobFailed(connection.server, fn, handle, data ?? Buffer.alloc(0));
      }
    } finally {
      connection.close();
    }
  }

  /** Queues `fn` with `payload` for some worker and resolves with the job's handle; nothing waits for its end. */
  async submitBackgroundJob(fn: string, payload: string | Buffer, options: SubmitBackgroundJobOptions = {}): Promise<string> {
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS);
    const connection = await this.connect(deadline);
    try {
      return await this.queue(connection, PACKET.SUBMIT_JOB_BG, fn, payload, deadline);
    } finally {
      connection.close();
    }
  }

  private connect(deadline: number): Promise<GearmanConnection> {
    const connectTimeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return GearmanConnection.open(this.address, Math.max(1, Math.min(connectTimeoutMs, deadline - Date.now())));
  }

  /** One SUBMIT_JOB packet, answered by JOB_CREATED with the job's handle. */
  private async queue(
    connection: GearmanConnection,
    type: typeof PACKET.SUBMIT_JOB | typeof PACKET.SUBMIT_JOB_BG,
    fn: string,
    payload: string | Buffer,
    deadline: number,
  ): Promise<string> {
    // A unique id of its own: jobs with the same id are merged into one by the server.
    await connection.send(type, [fn, randomUUID(), payload]);
    const created = await connection.receive(deadline, `JOB_CREATED for ${fn}`);
    if (created.type !== PACKET.JOB_CREATED) throw unexpected(connection.server, created, 'JOB_CREATED');
    return created.args[0]?.toString('utf8') ?? '';
  }
}
