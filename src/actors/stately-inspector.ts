/**
 * The host's inspection stream to the Stately inspector (docs/inspection.md,
 * `--inspect-ws URL`): every inspection event of every actor, turned into
 * the inspector's messages by `@statelyai/inspect`, goes as one JSON text
 * frame over a WebSocket to the URL given, and nowhere else.
 *
 * The conversion is the library's (`createInspector`); the socket is this
 * file's. The library's own WebSocket adapter (0.7) reconnects only after an
 * error, never after the server closed the connection; it keeps retrying
 * every 5 s after it was stopped, so a daemon whose inspector is not there
 * would never exit; and it sends its whole buffer again at every
 * reconnection. Here the socket retries with a growing pause until it is
 * closed, drops what happens while it is down, and tells the inspector at
 * each connection which actors are alive (their registration and current
 * snapshot), so the inspector's picture is right again from then on.
 */
import type { StatelyInspectionEvent } from '@statelyai/inspect';
import type { Observable } from 'rxjs';
import type WebSocket from 'ws';
import type { AnyActorRef, InspectionEvent } from 'xstate';
import type { Logger } from '../log/index.js';

/** What is inspected: the actor host, or anything with its inspection stream. */
export interface InspectionSource {
  readonly inspection: Observable<InspectionEvent>;
  /** The root actors, announced with their descendants at each connection (the stream does not replay). */
  roots?(): readonly AnyActorRef[];
}

export interface StatelyInspectorConnection {
  /** Stops forwarding and closes the socket; resolves once it is closed. */
  close(): Promise<void>;
}

export interface StatelyInspectorOptions {
  /** The pause before the first retry, doubled at each failure up to `MAX_RETRY_MS`. */
  retryMs?: number;
}

const MAX_RETRY_MS = 30_000;
/** A connection that neither opens nor fails (a black-holed address) is given up after this. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Past this much unsent data the inspector is falling behind: events are dropped rather than kept in memory. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Deeper values are cut: a snapshot may hold large nested data, and the library cuts its own at 10. */
const MAX_DEPTH = 12;
/** Contexts can hold what the logs redact (docs/logging.md): the same keys are masked here. */
const SECRET_KEY = /password|apikey|api_key|secret|token|dburi/i;

/** The URL unchanged when it is a WebSocket one; otherwise an error saying what is expected. */
export function inspectorUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`the Stately inspector's address must be a ws:// or wss:// URL, got '${value}'`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new Error(`the Stately inspector's address must be a ws:// or wss:// URL, got '${value}'`);
  }
  return value;
}

/**
 * Forwards `source.inspection` to the Stately inspector at `url`. Resolves
 * at once, connected or not: a server that is not there or goes away is
 * retried in the background, told at warn once per outage, and never stops
 * or slows the daemon. `@statelyai/inspect` and `ws` are loaded here, so a
 * daemon without `--inspect-ws` never loads them.
 */
export async function connectStatelyInspector(
  source: InspectionSource,
  url: string,
  log: Logger,
  options: StatelyInspectorOptions = {},
): Promise<StatelyInspectorConnection> {
  const target = inspectorUrl(url);
  const [{ createInspector }, { WebSocket: WebSocketClient }] = await Promise.all([import('@statelyai/inspect'), import('ws')]);
  const socket = new InspectorSocket(target, WebSocketClient, log, options.retryMs ?? 1000);
  const inspector = createInspector(socket);
  socket.onOpen = () => {
    // As the registrations XState itself emits, so an announced actor is named and described as a new one is.
    for (const root of source.roots?.() ?? []) announce(root, (actorRef) => inspector.inspect.next?.({ type: '@xstate.actor', actorRef, rootId: root.sessionId }));
  };
  const subscription = source.inspection.subscribe((event) => inspector.inspect.next?.(event));
  inspector.start();
  return {
    close: async () => {
      subscription.unsubscribe();
      await socket.close();
    },
  };
}

/** An actor and its descendants, parents first, as the inspector expects them registered. */
function announce(actor: AnyActorRef, register: (actor: AnyActorRef) => void): void {
  const snapshot = actor.getSnapshot() as { status?: string; children?: Record<string, AnyActorRef | undefined> };
  if (snapshot.status === 'stopped') return;
  register(actor);
  for (const child of Object.values(snapshot.children ?? {})) if (child) announce(child, register);
}

/** The socket the library's inspector sends through (its adapter: `start`, `stop`, `send` of each converted event). */
class InspectorSocket {
  onOpen: () => void = () => {};
  private socket: WebSocket | undefined;
  private retry: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Whether the current outage was told (reset by a connection). */
  private outageTold = false;
  private congestionTold = false;
  private closing: Promise<void> | undefined;
  private socketClosed: (() => void) | undefined;

  constructor(
    private readonly url: string,
    private readonly WebSocketClient: typeof WebSocket,
    private readonly log: Logger,
    private readonly retryMs: number,
  ) {}

  start(): void {
    this.connect();
  }

  stop(): void {
    void this.close();
  }

  send(event: StatelyInspectionEvent): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== this.WebSocketClient.OPEN) return;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      if (!this.congestionTold) this.log.warn({ url: this.url }, 'the Stately inspector is falling behind; its events are dropped until it catches up');
      this.congestionTold = true;
      return;
    }
    this.congestionTold = false;
    try {
      socket.send(toJson(event));
    } catch (err) {
      // Called from the library's timers: a throw there would end the daemon.
      this.log.debug({ err, url: this.url }, 'an inspection event could not be sent to the Stately inspector');
    }
  }

  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      clearTimeout(this.retry);
      const socket = this.socket;
      if (!socket) return resolve();
      this.socketClosed = resolve;
      socket.close(1001);
      // A peer that does not answer the closing handshake is not waited for.
      setTimeout(() => socket.terminate(), 1000).unref();
    });
    return this.closing;
  }

  private connect(): void {
    if (this.closing) return;
    const socket = new this.WebSocketClient(this.url, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    this.socket = socket;
    let opened = false;
    let reason: string | undefined;
    socket.on('open', () => {
      opened = true;
      this.failures = 0;
      this.log.info({ url: this.url }, this.outageTold ? 'connected to the Stately inspector again' : 'connected to the Stately inspector');
      this.outageTold = false;
      try {
        this.onOpen();
      } catch (err) {
        this.log.warn({ err, url: this.url }, 'the live actors could not all be announced to the Stately inspector');
      }
    });
    // Always listened for: an unhandled 'error' would end the process.
    socket.on('error', (err) => {
      reason = err.message;
    });
    socket.on('close', (code) => {
      this.socket = undefined;
      if (this.closing) {
        this.socketClosed?.();
        return;
      }
      this.failures += 1;
      const delayMs = Math.min(this.retryMs * 2 ** (this.failures - 1), MAX_RETRY_MS);
      const what = opened ? `the connection to the Stately inspector closed (${reason ?? `code ${code}`})` : `the Stately inspector cannot be reached (${reason ?? `code ${code}`})`;
      if (this.outageTold) this.log.debug({ url: this.url, delayMs }, `${what}; retrying`);
      else this.log.warn({ url: this.url }, `${what}; retrying in the background, the daemon goes on without it`);
      this.outageTold = true;
      this.retry = setTimeout(() => this.connect(), delayMs);
      // A retry alone does not keep a stopping daemon alive.
      this.retry.unref();
    });
  }
}

/**
 * JSON that never throws: XState snapshots and events can hold actor
 * references, cycles, errors and big integers. Functions are left out,
 * cycles and too deep values are cut, secrets masked.
 */
function toJson(value: unknown): string {
  const ancestors: unknown[] = [];
  return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    if (key !== '' && SECRET_KEY.test(key) && v !== undefined && v !== null) return '***';
    if (typeof v === 'bigint') return v.toString();
    if (typeof v !== 'object' || v === null) return v;
    while (ancestors.length > 0 && ancestors.at(-1) !== this) ancestors.pop();
    if (ancestors.includes(v)) return '[Circular]';
    if (ancestors.length >= MAX_DEPTH) return '[...]';
    ancestors.push(v);
    return v instanceof Error ? { name: v.name, message: v.message } : v;
  });
}
