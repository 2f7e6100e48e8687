/**
 * The client and the worker against a scripted server on loopback, for what
 * a real gearmand does not readily do: an exception, an ERROR packet,
 * silence, a connection cut mid-job, bytes that are not the protocol. Every
 * request ends with its socket closed, which the server sees.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GearmanClient, GearmanError, GearmanJobFailed, GearmanWorker } from '../../src/gearman/index.js';
import { encodeResponse, PACKET } from '../../src/gearman/packet.js';
import { waitFor } from '../support/daemon.js';
import { freeLoopbackPort } from '../support/ssh-server.js';

interface Request {
  type: number;
  args: string[];
}

interface ScriptedServer {
  host: string;
  port: number;
  requests: Request[];
  open: Set<Socket>;
}

const servers: { server: Server; open: Set<Socket> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(({ server, open }) => new Promise<void>((resolve) => {
    for (const socket of open) socket.destroy();
    server.close(() => resolve());
  })));
});

/** A server that hands each request to `script`, which answers on the socket (or does not). */
async function scripted(script: (request: Request, socket: Socket) => void): Promise<ScriptedServer> {
  const requests: Request[] = [];
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 12 && pending.length >= 12 + pending.readUInt32BE(8)) {
        const size = pending.readUInt32BE(8);
        const data = pending.subarray(12, 12 + size).toString('utf8');
        const request = { type: pending.readUInt32BE(4), args: size === 0 ? [] : data.split('\0') };
        pending = pending.subarray(12 + size);
        requests.push(request);
        script(request, socket);
      }
    });
  });
  servers.push({ server, open });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { host: '127.0.0.1', port: address.port, requests, open };
}

/** Answers the exceptions option and queues every job as H:1; `then` decides what follows JOB_CREATED. */
function jobServer(then: (socket: Socket) => void) {
  return scripted((request, socket) => {
    if (request.type === PACKET.OPTION_REQ) socket.write(encodeResponse(PACKET.OPTION_RES, ['exceptions']));
    if (request.type === PACKET.SUBMIT_JOB || request.type === PACKET.SUBMIT_JOB_BG) {
      socket.write(encodeResponse(PACKET.JOB_CREATED, ['H:1']));
      then(socket);
    }
  });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(() => undefined, (err: unknown) => err);
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

const closed = (server: ScriptedServer) => waitFor('the connection to close', () => server.open.size === 0, { timeoutMs: 5000, intervalMs: 10 });

describe('a job submitted to a scripted server', () => {
  it('resolves with the WORK_COMPLETE data of its own handle, past status and data on the way', async () => {
    const server = await jobServer((socket) => {
      socket.write(Buffer.concat([
        encodeResponse(PACKET.WORK_STATUS, ['H:1', '1', '2']),
        encodeResponse(PACKET.WORK_DATA, ['H:1', 'partial']),
        encodeResponse(PACKET.WORK_COMPLETE, ['H:1', '{"manager":"jenkins01"}']),
      ]));
    });
    const reply = await new GearmanClient(server).submitJob('node_assign:jenkins', '{"node":1}');
    expect(reply.toString()).toBe('{"manager":"jenkins01"}');
    const submit = server.requests.find((r) => r.type === PACKET.SUBMIT_JOB);
    expect(submit?.args[0]).toBe('node_assign:jenkins');
    expect(submit?.args[2]).toBe('{"node":1}');
    await closed(server);
  });

  it('rejects with the exception a worker sent', async () => {
    const server = await jobServer((socket) => socket.write(encodeResponse(PACKET.WORK_EXCEPTION, ['H:1', 'no such manager'])));
    const error = await rejection(new GearmanClient(server).submitJob('node_revoke:jenkins01', '{}'));
    expect(error).toBeInstanceOf(GearmanJobFailed);
    expect((error as GearmanJobFailed).exception?.toString()).toBe('no such manager');
    expect(error.message).toBe(`gearman 127.0.0.1:${server.port}: job H:1 of node_revoke:jenkins01 failed with an exception: "no such manager"`);
    await closed(server);
  });

  it('rejects when the server answers with an ERROR packet', async () => {
    const server = await scripted((request, socket) => {
      if (request.type === PACKET.SUBMIT_JOB_BG) socket.write(encodeResponse(PACKET.ERROR, ['QUEUE_FULL', 'the queue is full']));
    });
    const error = await rejection(new GearmanClient(server).submitBackgroundJob('build:job:small', ''));
    expect(error).toBeInstanceOf(GearmanError);
    expect((error as GearmanError).kind).toBe('server');
    expect(error.message).toBe(`gearman 127.0.0.1:${server.port}: the server answered QUEUE_FULL: the queue is full`);
    await closed(server);
  });

  it('gives up within its bound when no answer comes, and closes the connection', async () => {
    const server = await jobServer(() => undefined);
    const started = Date.now();
    const error = await rejection(new GearmanClient(server).submitJob('node_assign:jenkins', '{}', { timeoutMs: 300 }));
    expect((error as GearmanError).kind).toBe('timeout');
    expect(error.message).toMatch(/no the answer to job H:1 of node_assign:jenkins within \d+ ms$/);
    expect(Date.now() - started).toBeLessThan(2000);
    await closed(server);
  });

  it('fails when the server closes the connection mid-job', async () => {
    const server = await jobServer((socket) => socket.end());
    const error = await rejection(new GearmanClient(server).submitJob('node_assign:jenkins', '{}'));
    expect((error as GearmanError).kind).toBe('connection');
    expect(error.message).toBe(`gearman 127.0.0.1:${server.port}: the server closed the connection`);
  });

  it('fails on bytes that are not the protocol', async () => {
    const server = await scripted((_request, socket) => socket.write('ERR unknown_command\r\n'));
    const error = await rejection(new GearmanClient(server).submitBackgroundJob('build:job:small', ''));
    expect((error as GearmanError).kind).toBe('protocol');
    await closed(server);
  });

  it('fails on a refused connection, naming the server', async () => {
    const port = await freeLoopbackPort();
    const error = await rejection(new GearmanClient({ host: '127.0.0.1', port }).submitJob('f', ''));
    expect(error.message).toBe(`gearman 127.0.0.1:${port}: connection refused`);
  });
});

describe('a worker against a scripted server', () => {
  it('gives up a grab that is not answered, and starts on a new connection next time', async () => {
    let answer = false;
    const server = await scripted((request, socket) => {
      if (request.type === PACKET.GRAB_JOB && answer) socket.write(encodeResponse(PACKET.NO_JOB));
    });
    const worker = new GearmanWorker(server, { timeoutMs: 200 });
    try {
      const error = await rejection(worker.grabJob(['build:job:small']));
      expect((error as GearmanError).kind).toBe('timeout');
      await closed(server);
      answer = true;
      expect(await worker.grabJob(['build:job:small'])).toBeUndefined();
      // The new connection is told again what the worker can do.
      expect(server.requests.filter((r) => r.type === PACKET.CAN_DO).map((r) => r.args[0])).toEqual(['build:job:small', 'build:job:small']);
    } finally {
      worker.close();
    }
    await closed(server);
  });
});
