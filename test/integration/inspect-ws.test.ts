/**
 * `--inspect-ws URL`: nodepoold running as a process sends its actors'
 * inspection events to a real WebSocket server on 127.0.0.1, goes on (and
 * stops) without one, and refuses a URL that is not a WebSocket one.
 */
import { createServer } from 'node:net';
import { WebSocketServer } from 'ws';
import { afterEach, expect, it } from 'vitest';
import { runExecutable } from '../support/cli.js';
import { tempDir } from '../support/config-files.js';
import { createTempSqliteUri } from '../support/databases.js';
import { startNodepoold, waitFor, type RunningDaemon } from '../support/daemon.js';
import { writePoolConfig } from '../support/pool-config.js';

interface Message {
  type: string;
  name?: string;
  sessionId: string;
  snapshot?: { value?: unknown };
}

const running: RunningDaemon[] = [];
const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const daemon of running.splice(0)) await daemon.kill();
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

function start(configFile: string, url: string): RunningDaemon {
  const daemon = startNodepoold(['-c', configFile, '--no-builder', '--inspect-ws', url]);
  running.push(daemon);
  return daemon;
}

it('sends the node actors’ snapshots to the inspector, up to ready', { timeout: 60_000 }, async () => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(server);
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const messages: Message[] = [];
  server.on('connection', (socket) => socket.on('message', (data) => messages.push(JSON.parse(String(data)) as Message)));
  const dir = tempDir();
  const configFile = writePoolConfig({ dir, dburi: createTempSqliteUri(), labels: [{ name: 'small', minReady: 1, providers: ['fake-a'] }] });
  const daemon = start(configFile, `ws://127.0.0.1:${(server.address() as { port: number }).port}`);

  // Snapshots name their actor by session; the registrations say which actor that is.
  const nodeOf = (sessionId: string) => messages.find((m) => m.type === '@xstate.actor' && m.sessionId === sessionId && m.name?.startsWith('node-'))?.name;
  const readyNode = await waitFor(
    'a node actor’s snapshot in state ready',
    () => messages.find((m) => m.type === '@xstate.snapshot' && m.snapshot?.value === 'ready' && nodeOf(m.sessionId)),
    { timeoutMs: 30_000 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${daemon.tail()}`);
  });
  const node = nodeOf(readyNode.sessionId) as string;
  expect(node).toMatch(/^node-\d+$/);
  // The way there too: the node was seen building before it was ready.
  const states = messages.filter((m) => m.type === '@xstate.snapshot' && m.sessionId === readyNode.sessionId).map((m) => m.snapshot?.value);
  expect(states.some((value) => typeof value === 'object' && value !== null && 'building' in value)).toBe(true);
  expect(daemon.lines.some((l) => l.msg === 'connected to the Stately inspector')).toBe(true);
  expect(await daemon.stop('SIGTERM')).toBe(0);
});

it('runs and stops without an inspector there, told once at warn', { timeout: 60_000 }, async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  const dir = tempDir();
  const configFile = writePoolConfig({ dir, dburi: createTempSqliteUri(), labels: [{ name: 'small', minReady: 1, providers: ['fake-a'] }] });
  const daemon = start(configFile, `ws://127.0.0.1:${port}`);
  await daemon.waitForLog('the warning', (l) => l.level === 'warn' && /^the Stately inspector cannot be reached/.test(l.msg));
  // Work goes on: a node gets ready while the inspector is missing.
  await daemon.waitForLog('a ready node', (l) => /^node \d+ is ready$/.test(l.msg), 30_000).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${daemon.tail()}`);
  });
  expect(await daemon.stop('SIGTERM')).toBe(0);
  expect(daemon.lines.filter((l) => l.level === 'warn' && /Stately inspector/.test(l.msg))).toHaveLength(1);
});

it.each(['nodepoold', 'nodepool-builder'] as const)('%s --inspect-ws http://x is a usage error naming the option', async (program) => {
  const result = await runExecutable(program, ['-d', '--inspect-ws', 'http://x']);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain("option '--inspect-ws <URL>' argument 'http://x' is invalid");
  expect(result.stderr).toContain('ws:// or wss://');
});
