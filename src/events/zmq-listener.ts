/**
 * The job events of every Jenkins master in `zmq-publishers`, as one stream
 * (docs/configuration.md, docs/behaviour.md "Jobs"). One ZeroMQ SUB socket per
 * endpoint, subscribed to everything; each message is parsed
 * (./job-event.ts): events are emitted, ignored messages dropped at debug, and
 * malformed ones logged as warnings and dropped. The stream never errors on
 * a message and never completes by itself; unsubscribing closes every socket.
 *
 * **Publishers that go away.** A SUB socket reconnects by itself, and sends
 * its subscription again on each new connection. So a socket is never closed
 * or remade because its publisher went away: it is kept, a receive is always
 * pending on it (libzmq acts on the reconnection, subscription included, only
 * when the socket is used), and the connection's ups and downs are only
 * logged, once per change.
 *
 * **Reload.** The endpoints come as a list or as a stream of lists (the
 * running configuration's `zmq-publishers`: `updates.pipe(map((u) =>
 * u.config.zmqPublishers))` over `watchConfig`). For each new list the sockets
 * of endpoints that stay are kept, those of endpoints that went are closed
 * and new endpoints get a socket. Reopening every socket on a reload (a
 * switchMap over configurations) would lose whatever was published while it
 * was down, for good: a PUB socket keeps nothing for an absent subscriber,
 * and a lost onFinalized leaves its node `used` forever.
 */
import { isObservable, Observable, of } from 'rxjs';
import type { Subscriber as RxSubscriber } from 'rxjs';
import type * as Zeromq from 'zeromq';
import type { Subscriber } from 'zeromq';
import type { Logger } from '../log/index.js';
import { parseJobEventMessage } from './job-event.js';
import type { JobEvent } from './job-event.js';

/** ZeroMQ's native module, loaded when the first socket opens: a pool without `zmq-publishers` never carries it. */
let zeromq: Promise<typeof Zeromq> | undefined;
const loadZeromq = (): Promise<typeof Zeromq> => (zeromq ??= import('zeromq'));

/** `tcp://host:port` endpoints of Jenkins event publishers. */
export type PublisherEndpoints = readonly string[] | Observable<readonly string[]>;

export interface JobEventsOptions {
  log: Logger;
  /** Makes the socket of one endpoint; a test supplies one it can watch or break. */
  openSocket?: () => Subscriber;
  /** After a socket failed outright (not a lost publisher: that ZeroMQ handles), wait this long before making a new one. */
  reopenDelayMs?: number;
}

/**
 * Emits the job events of every endpoint of the latest list. When the lists
 * complete, the last one is listened to until unsubscribed; an error of the
 * lists closes every socket and is passed on.
 */
export function jobEvents(endpoints: PublisherEndpoints, options: JobEventsOptions): Observable<JobEvent> {
  const lists = isObservable(endpoints) ? endpoints : of(endpoints);
  return new Observable<JobEvent>((subscriber) => {
    const listening = new Map<string, EndpointListener>();
    const closeAll = () => {
      for (const listener of listening.values()) listener.close();
      listening.clear();
    };
    const follow = (list: readonly string[]) => {
      const wanted = new Set(list);
      for (const [endpoint, listener] of listening) {
        if (wanted.has(endpoint)) continue;
        listener.close();
        listening.delete(endpoint);
      }
      for (const endpoint of wanted) {
        if (!listening.has(endpoint)) listening.set(endpoint, new EndpointListener(endpoint, subscriber, options));
      }
    };
    const subscription = lists.subscribe({
      next: follow,
      error: (err: unknown) => {
        closeAll();
        subscriber.error(err);
      },
    });
    return () => {
      subscription.unsubscribe();
      closeAll();
    };
  });
}

/** Sensible bounds for a socket that may sit idle for hours and outlive its publisher many times. */
const SOCKET_OPTIONS = {
  // A SUB socket has nothing of value to send at close: do not let it hold the process's exit.
  linger: 0,
  // ZeroMQ retries every 100 ms by default; back off to once a second so a
  // publisher that is down for hours is not hammered, yet one that comes back
  // is found again within about a second (what it publishes before is lost).
  reconnectInterval: 100,
  reconnectMaxInterval: 1000,
  // A publisher whose host vanished without closing the connection would
  // look connected forever. TCP keepalive finds it (about two minutes after
  // it went quiet) and ZeroMQ then reconnects. ZMTP heartbeats would do it
  // too, but only with a publisher whose ZeroMQ answers them.
  tcpKeepalive: 1,
  tcpKeepaliveIdle: 60,
  tcpKeepaliveInterval: 10,
  tcpKeepaliveCount: 6,
} as const;

/** The socket of one endpoint, remade only if the socket itself fails. */
class EndpointListener {
  private readonly log: Logger;
  private socket: Subscriber | undefined;
  private closed = false;
  private connected = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  /** A failing socket is logged as an error once, until a message gets through again. */
  private failing = false;

  constructor(
    private readonly endpoint: string,
    private readonly events: RxSubscriber<JobEvent>,
    private readonly options: JobEventsOptions,
  ) {
    this.log = options.log.child({ endpoint });
    void this.open();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reopenTimer);
    this.socket?.close();
    this.socket = undefined;
    this.log.info('stopped listening for job events');
  }

  private async open(): Promise<void> {
    let socket: Subscriber;
    try {
      socket = this.options.openSocket?.() ?? new (await loadZeromq()).Subscriber();
    } catch (err) {
      // No socket at all (the process is out of file descriptors, say): try again later.
      this.failed(err);
      return;
    }
    // Closed while ZeroMQ was loading: the socket is not wanted any more.
    if (this.closed) {
      socket.close();
      return;
    }
    Object.assign(socket, SOCKET_OPTIONS);
    socket.subscribe();
    // The monitor sees only what happens after it starts: start it before connecting.
    void this.watchConnection(socket);
    try {
      socket.connect(this.endpoint);
    } catch (err) {
      // Only a malformed endpoint fails here (an unreachable one is retried by ZeroMQ); a reload can correct it.
      socket.close();
      this.log.error({ err }, 'cannot listen for job events: the endpoint is not a ZeroMQ address (tcp://host:port)');
      return;
    }
    this.socket = socket;
    this.log.info('listening for job events');
    void this.receive(socket);
  }

  private async receive(socket: Subscriber): Promise<void> {
    try {
      // The iteration ends when the socket is closed.
      for await (const frames of socket) this.handle(frames);
    } catch (err) {
      if (this.closed) return;
      socket.close();
      this.socket = undefined;
      this.failed(err);
    }
  }

  /** The socket could not be made or stopped receiving: a new one after a pause. */
  private failed(err: unknown): void {
    if (this.failing) this.log.debug({ err }, 'the job event socket failed again');
    else this.log.error({ err }, `the job event socket failed; a new one in ${this.reopenDelayMs} ms`);
    this.failing = true;
    this.connected = false;
    this.reopenTimer = setTimeout(() => {
      if (!this.closed) void this.open();
    }, this.reopenDelayMs);
  }

  private get reopenDelayMs(): number {
    return this.options.reopenDelayMs ?? 1000;
  }

  private handle(frames: readonly Uint8Array[]): void {
    if (this.closed) return;
    this.failing = false;
    const parsed = parseJobEventMessage(frames);
    switch (parsed.outcome) {
      case 'event':
        this.log.debug({ kind: parsed.event.kind, job: parsed.event.job, node: parsed.event.nodeName }, 'job event');
        this.events.next(parsed.event);
        return;
      case 'ignored':
        this.log.debug({ reason: parsed.reason }, 'ignored a job event message');
        return;
      case 'malformed':
        this.log.warn(
          { reason: parsed.reason, message: parsed.excerpt, bytes: frames.reduce((n, f) => n + f.byteLength, 0) },
          `dropped a malformed job event message: ${parsed.reason}`,
        );
    }
  }

  /** Connection changes, logged once each; ZeroMQ's own retries every second are not. */
  private async watchConnection(socket: Subscriber): Promise<void> {
    try {
      for await (const event of socket.events) {
        if (event.type === 'connect' && !this.connected) {
          this.connected = true;
          this.log.info('connected to the job event publisher');
        } else if (event.type === 'disconnect' && this.connected) {
          this.connected = false;
          this.log.warn('lost the job event publisher; reconnecting');
        }
      }
    } catch (err) {
      // Losing the log of connection changes loses nothing else: the socket still receives.
      if (!this.closed) this.log.debug({ err }, 'stopped watching the job event connection');
    }
  }
}
