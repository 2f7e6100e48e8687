/**
 * One `status` request: reading its lines, and every way a server can fail
 * to give one, against tiny TCP servers in the test. Each request closes its
 * socket however it ends, which the servers see.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { gearmanStatus, GearmanStatusError, parseStatusRow, serverName, StatusLineError } from '../../src/demand/index.js';
import type { GearmanServerAddress } from '../../src/demand/index.js';
import { waitFor } from '../support/daemon.js';
import { freeLoopbackPort } from '../support/ssh-server.js';

describe('a status line', () => {
  it('reads as function, total, running and available workers', () => {
    expect(parseStatusRow('build:job:small\t7\t1\t3')).toEqual({ fn: 'build:job:small', total: 7, running: 1, workers: 3 });
  });

  it.each([
    ['build:job:small\t7\t0', 'expected 4 tab-separated fields, got 3'],
    ['build:job:small\t7\t0\t0\t0', 'expected 4 tab-separated fields, got 5'],
    ['build:job:small 7 0 0', 'expected 4 tab-separated fields, got 1'],
    ['', 'expected 4 tab-separated fields, got 1'],
    ['\t1\t0\t0', 'the function name is empty'],
    ['build:job:small\tseven\t0\t0', 'total is not a whole number of 0 or more: "seven"'],
    ['build:job:small\t-1\t0\t0', 'total is not a whole number of 0 or more: "-1"'],
    ['build:job:small\t7\t1.5\t0', 'running is not a whole number of 0 or more: "1.5"'],
    ['build:job:small\t7\t0\t', 'available workers is not a whole number of 0 or more: ""'],
    ['build:job:small\t 7\t0\t0', 'total is not a whole number of 0 or more: " 7"'],
    ['build:job:small\t99999999999999999999\t0\t0', 'total is not a whole number of 0 or more: "99999999999999999999"'],
  ])('%j is refused: %s', (line, problem) => {
    expect(() => parseStatusRow(line)).toThrow(StatusLineError);
    expect(() => parseStatusRow(line)).toThrow(problem);
  });
});

describe('a server name', () => {
  it('is host:port, an IPv6 address in brackets', () => {
    expect(serverName({ host: 'gearman.example.org', port: 4730 })).toBe('gearman.example.org:4730');
    expect(serverName({ host: '::1', port: 4730 })).toBe('[::1]:4730');
  });
});

/** A tiny TCP server; `onRequest` decides what each connection gets. Records what it received and open sockets. */
interface TinyServer extends GearmanServerAddress {
  received: string[];
  open: Set<Socket>;
}

const servers: { server: Server; open: Set<Socket> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(({ server, open }) => new Promise<void>((resolve) => {
    // What a failing test left open, or the server would not close.
    for (const socket of open) socket.destroy();
    server.close(() => resolve());
  })));
});

async function tinyServer(onRequest: (socket: Socket, request: string) => void): Promise<TinyServer> {
  const received: string[] = [];
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    socket.setEncoding('utf8');
    socket.once('data', (request: string) => {
      received.push(request);
      onRequest(socket, request);
    });
  });
  servers.push({ server, open });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { host: '127.0.0.1', port: address.port, received, open };
}

async function failure(request: Promise<unknown>): Promise<GearmanStatusError> {
  const error = await request.then(() => undefined, (err: unknown) => err);
  expect(error).toBeInstanceOf(GearmanStatusError);
  return error as GearmanStatusError;
}

async function closedOnBothSides(server: TinyServer): Promise<void> {
  await waitFor('the connection to close', () => server.open.size === 0, { timeoutMs: 5000, intervalMs: 10 });
}

describe('one status request', () => {
  it('sends `status` and reads the rows up to the line `.`', async () => {
    const server = await tinyServer((socket) => socket.write('build:job:small\t7\t0\t0\nbuild:other\t2\t0\t0\n.\n'));
    expect(await gearmanStatus(server)).toEqual([
      { fn: 'build:job:small', total: 7, running: 0, workers: 0 },
      { fn: 'build:other', total: 2, running: 0, workers: 0 },
    ]);
    expect(server.received).toEqual(['status\n']);
    await closedOnBothSides(server);
  });

  it('reads an answer that comes in pieces, a line split anywhere, and an empty one', async () => {
    const answer = 'build:job:small\t7\t0\t0\r\nbuild:job:large\t12\t3\t1\n.\n';
    const pieces = await tinyServer((socket) => {
      for (let i = 0; i < answer.length; i += 5) socket.write(answer.slice(i, i + 5));
    });
    expect(await gearmanStatus(pieces)).toEqual([
      { fn: 'build:job:small', total: 7, running: 0, workers: 0 },
      { fn: 'build:job:large', total: 12, running: 3, workers: 1 },
    ]);
    const empty = await tinyServer((socket) => socket.write('.\n'));
    expect(await gearmanStatus(empty)).toEqual([]);
  });

  it('fails on a refused connection, naming the server', async () => {
    const port = await freeLoopbackPort();
    const error = await failure(gearmanStatus({ host: '127.0.0.1', port }));
    expect(error.message).toBe(`gearman 127.0.0.1:${port}: connection refused`);
    expect(error.server).toBe(`127.0.0.1:${port}`);
  });

  it('fails when the answer does not end in time, and closes the connection', async () => {
    const server = await tinyServer((socket) => socket.write('build:job:small\t7\t0\t0\n'));
    const error = await failure(gearmanStatus(server, { timeoutMs: 200 }));
    expect(error.message).toBe(`gearman 127.0.0.1:${server.port}: no complete status answer within 200 ms (1 line read)`);
    await closedOnBothSides(server);
  });

  it('fails within its bound where nothing answers, whatever the network makes of the address', async () => {
    // 192.0.2.0/24 is reserved for documentation: depending on the network a
    // connect there hangs (the bound ends it), is refused, or is unreachable.
    const started = Date.now();
    const error = await failure(gearmanStatus({ host: '192.0.2.1', port: 4730 }, { timeoutMs: 200 }));
    expect(error.message).toMatch(/^gearman 192\.0\.2\.1:4730: (no connection within 200 ms|connection refused|.*unreachable)$/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('fails when the server closes before the line `.`', async () => {
    const server = await tinyServer((socket) => socket.end('build:job:small\t7\t0\t0\n'));
    const error = await failure(gearmanStatus(server));
    expect(error.message).toBe(`gearman 127.0.0.1:${server.port}: the connection closed before the end of the status answer (1 line read)`);
    await closedOnBothSides(server);
  });

  it('fails on a line that is not a status row, and closes the connection at once', async () => {
    const server = await tinyServer((socket) => socket.write('build:job:small\t7\t0\t0\nbuild:job:large\tmany\t0\t0\n'));
    const error = await failure(gearmanStatus(server));
    expect(error.message).toBe(`gearman 127.0.0.1:${server.port}: unreadable status line "build:job:large\\tmany\\t0\\t0": total is not a whole number of 0 or more: "many"`);
    expect(error.cause).toBeInstanceOf(StatusLineError);
    await closedOnBothSides(server);
  });

  it('fails when the server refuses the command', async () => {
    const server = await tinyServer((socket) => socket.write('ERR UNKNOWN_COMMAND Unknown+server+command\n'));
    const error = await failure(gearmanStatus(server));
    expect(error.message).toBe(`gearman 127.0.0.1:${server.port}: the server refused the status command: "ERR UNKNOWN_COMMAND Unknown+server+command"`);
  });

  it('fails on a line without end rather than holding it until the timeout', async () => {
    const server = await tinyServer((socket) => socket.write('x'.repeat(70 * 1024)));
    const error = await failure(gearmanStatus(server, { timeoutMs: 5000 }));
    expect(error.message).toBe(`gearman 127.0.0.1:${server.port}: a status line longer than 65536 characters`);
    await closedOnBothSides(server);
  });

  it('stops when aborted, closing the connection', async () => {
    const server = await tinyServer(() => undefined);
    const controller = new AbortController();
    const request = gearmanStatus(server, { signal: controller.signal });
    await waitFor('the request to arrive', () => server.received.length > 0, { timeoutMs: 5000, intervalMs: 10 });
    controller.abort();
    expect((await failure(request)).message).toBe(`gearman 127.0.0.1:${server.port}: the request was cancelled`);
    await closedOnBothSides(server);
  });
});
