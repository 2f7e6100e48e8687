/**
 * The inspection stream to the Stately inspector, against a real WebSocket
 * server on 127.0.0.1: what the server receives for a small machine's
 * actor, the actors announced at each connection, and a server that is not
 * there or goes away.
 */
import { createServer } from 'node:net';
import { Subject } from 'rxjs';
import { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { assign, createActor, fromCallback, setup, type AnyActorRef, type InspectionEvent } from 'xstate';
import { connectStatelyInspector, inspectorUrl, type StatelyInspectorConnection } from '../../src/actors/stately-inspector.js';
import { Logging } from '../../src/log/index.js';
import { waitFor } from '../support/daemon.js';

interface Message {
  type: string;
  name?: string;
  sessionId: string;
  event?: { type: string };
  snapshot?: { value?: unknown; context?: Record<string, unknown>; status?: string };
  [key: string]: unknown;
}

/** A WebSocket server keeping every message it receives, parsed. */
class InspectorServer {
  readonly messages: Message[] = [];
  connections = 0;
  private constructor(readonly wss: WebSocketServer) {
    wss.on('connection', (socket) => {
      this.connections += 1;
      socket.on('message', (data) => this.messages.push(JSON.parse(String(data)) as Message));
    });
  }

  static async start(): Promise<InspectorServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    return new InspectorServer(wss);
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as { port: number }).port}`;
  }

  /** Drops every connection, as a server that goes away would. */
  dropConnections(): void {
    for (const client of this.wss.clients) client.terminate();
  }

  close(): Promise<void> {
    this.dropConnections();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

const light = setup({
  types: { context: {} as { count: number; password: string; onGo: () => number; helper: AnyActorRef } },
  actors: { helper: fromCallback(() => () => {}) },
}).createMachine({
  id: 'light',
  // A function, a secret and an actor reference: what a real context holds and JSON alone does not take.
  context: ({ spawn }) => ({ count: 0, password: 'hunter2', onGo: () => 1, helper: spawn('helper', { id: 'helper' }) }),
  initial: 'red',
  states: {
    red: { on: { go: { target: 'green', actions: assign({ count: ({ context }) => context.count + 1 }) } } },
    green: {},
  },
});

function logged() {
  const lines: { level: string; msg: string }[] = [];
  const logging = new Logging({ level: 'debug', destination: 'stderr', loggers: {} }, { stream: { write: (t: string) => void lines.push(JSON.parse(t) as never) } });
  return { lines, log: logging.get('nodepool.actors') };
}

/** A port nothing listens on. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track<T extends StatelyInspectorConnection>(connection: T): T {
  cleanups.push(() => connection.close());
  return connection;
}

describe('the Stately inspector over a WebSocket', () => {
  it('sends an actor’s registration, the events it receives and its snapshots, as JSON', async () => {
    const server = await InspectorServer.start();
    cleanups.push(() => server.close());
    const inspection = new Subject<InspectionEvent>();
    const { log } = logged();
    track(await connectStatelyInspector({ inspection }, server.url, log));
    await waitFor('the connection', () => server.connections === 1);

    const actor = createActor(light, { id: 'light-1', inspect: (e) => inspection.next(e) });
    cleanups.push(() => void actor.stop());
    actor.start();
    actor.send({ type: 'go' });
    expect(actor.getSnapshot().value).toBe('green');

    const sessionId = actor.sessionId;
    const registration = await waitFor('the actor’s registration', () => server.messages.find((m) => m.type === '@xstate.actor' && m.sessionId === sessionId));
    expect(registration).toMatchObject({ name: 'light-1', _version: expect.any(String) });
    expect(registration.definition).toEqual(expect.stringContaining('"id":"light"'));
    const event = await waitFor('the event', () => server.messages.find((m) => m.type === '@xstate.event' && m.sessionId === sessionId && m.event?.type === 'go'));
    expect(event.event).toEqual({ type: 'go' });
    const snapshot = await waitFor('the snapshot after it', () => server.messages.find((m) => m.type === '@xstate.snapshot' && m.sessionId === sessionId && m.snapshot?.value === 'green'));
    expect(snapshot.event).toEqual({ type: 'go' });
    expect(snapshot.snapshot?.context).toMatchObject({ count: 1, password: '***', helper: { id: 'helper' } });
    // The spawned child is an actor of its own.
    expect(server.messages.some((m) => m.type === '@xstate.actor' && m.name === 'helper')).toBe(true);
  });

  it('announces the actors alive when it connects, with their current state', async () => {
    const server = await InspectorServer.start();
    cleanups.push(() => server.close());
    const actor = createActor(light, { id: 'light-2' });
    cleanups.push(() => void actor.stop());
    actor.start();
    actor.send({ type: 'go' });
    const { log } = logged();
    track(await connectStatelyInspector({ inspection: new Subject<InspectionEvent>(), roots: () => [actor] }, server.url, log));
    const announced = await waitFor('the announcement', () => server.messages.find((m) => m.type === '@xstate.actor' && m.sessionId === actor.sessionId));
    expect(announced).toMatchObject({ name: 'light-2', snapshot: { value: 'green', status: 'active', context: { count: 1 } } });
    expect(server.messages.find((m) => m.name === 'helper')).toMatchObject({ parentId: actor.sessionId });
  });

  it('connects again when the server drops it, told once at warn, and announces the actors again', async () => {
    const server = await InspectorServer.start();
    cleanups.push(() => server.close());
    const actor = createActor(light, { id: 'light-3' });
    cleanups.push(() => void actor.stop());
    actor.start();
    const { lines, log } = logged();
    track(await connectStatelyInspector({ inspection: new Subject<InspectionEvent>(), roots: () => [actor] }, server.url, log, { retryMs: 20 }));
    await waitFor('the first connection', () => server.connections === 1 && server.messages.length > 0);
    server.dropConnections();
    await waitFor('the second connection', () => server.connections === 2);
    await waitFor('the actor announced again', () => server.messages.filter((m) => m.sessionId === actor.sessionId).length === 2);
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
      expect.stringMatching(/^the connection to the Stately inspector closed .*; retrying in the background/),
    ]);
    expect(lines.some((l) => l.level === 'info' && l.msg === 'connected to the Stately inspector again')).toBe(true);
  });

  it('goes on without a server that is not there, retrying quietly, and closes at once', async () => {
    const inspection = new Subject<InspectionEvent>();
    const { lines, log } = logged();
    const connection = await connectStatelyInspector({ inspection }, `ws://127.0.0.1:${await freePort()}`, log, { retryMs: 10 });
    await waitFor('three retries', () => lines.filter((l) => l.level === 'debug').length >= 3);
    // Events keep flowing into a stream nobody can receive: they are dropped, not kept.
    const actor = createActor(light, { inspect: (e) => inspection.next(e) });
    actor.start();
    actor.send({ type: 'go' });
    actor.stop();
    expect(lines.filter((l) => l.level === 'warn')).toEqual([expect.objectContaining({ msg: expect.stringMatching(/^the Stately inspector cannot be reached/) })]);
    await connection.close();
    const after = lines.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Closed means no more attempts (each would log at debug).
    expect(lines.length).toBe(after);
  });

  it('takes only ws:// and wss:// URLs', async () => {
    expect(inspectorUrl('ws://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080');
    expect(inspectorUrl('wss://inspector.example/x')).toBe('wss://inspector.example/x');
    expect(() => inspectorUrl('http://x')).toThrow("the Stately inspector's address must be a ws:// or wss:// URL, got 'http://x'");
    expect(() => inspectorUrl('not a url')).toThrow(/ws:\/\/ or wss:\/\//);
    const { log } = logged();
    await expect(connectStatelyInspector({ inspection: new Subject<InspectionEvent>() }, 'http://x', log)).rejects.toThrow(/ws:\/\/ or wss:\/\//);
  });
});
