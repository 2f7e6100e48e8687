/**
 * One TCP connection to a Gearman server speaking the binary protocol:
 * packets out, packets in, in order. The client and the worker put one
 * request at a time on it and read its answer; every wait is bounded, and a
 * connection that failed, timed out or was closed is destroyed at once, so
 * no socket outlives its use.
 */
import { connect, type Socket } from 'node:net';
import { GearmanError } from './errors.js';
import { encodeRequest, PACKET, PacketReader, packetName, type Packet, type PacketType } from './packet.js';

/** Where a Gearman server listens (the shape of a `gearman-servers` entry). */
export interface GearmanAddress {
  host: string;
  port: number;
}

/** `host:port`, with an IPv6 address in brackets so the port stays readable. */
export function serverName(server: GearmanAddress): string {
  return server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

interface Waiter {
  resolve(packet: Packet): void;
  reject(error: Error): void;
}

export class GearmanConnection {
  private readonly packets: Packet[] = [];
  private waiter: Waiter | undefined;
  private failure: GearmanError | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly server: string,
  ) {
    const reader = new PacketReader();
    socket.on('data', (chunk: Buffer) => {
      let received: Packet[];
      try {
        received = reader.push(chunk);
      } catch (err) {
        this.fail(new GearmanError(server, 'protocol', (err as Error).message, { cause: err }));
        return;
      }
      for (const packet of received) this.deliver(packet);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(new GearmanError(server, 'connection', describeSocketError(err), { cause: err })));
    socket.on('close', () => this.fail(new GearmanError(server, 'connection', 'the server closed the connection')));
  }

  /** Connects within `timeoutMs`; rejects with a GearmanError (`connection` or `timeout`). */
  static open(address: GearmanAddress, timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Promise<GearmanConnection> {
    const server = serverName(address);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: address.host, port: address.port });
      const settle = (error?: GearmanError) => {
        clearTimeout(timer);
        socket.removeListener('error', onError);
        socket.removeListener('connect', onConnect);
        if (error) {
          socket.destroy();
          reject(error);
        } else {
          socket.setNoDelay(true);
          resolve(new GearmanConnection(socket, server));
        }
      };
      const onError = (err: NodeJS.ErrnoException) => settle(new GearmanError(server, 'connection', describeSocketError(err), { cause: err }));
      const onConnect = () => settle();
      const timer = setTimeout(() => settle(new GearmanError(server, 'timeout', `no connection within ${timeoutMs} ms`)), timeoutMs);
      socket.once('error', onError);
      socket.once('connect', onConnect);
    });
  }

  /** True once the connection failed or was closed: it takes no more requests. */
  get closed(): boolean {
    return this.failure !== undefined;
  }

  /** Resolves once the packet is handed to the operating system. */
  send(type: PacketType, args: readonly (string | Buffer)[] = []): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.socket.write(encodeRequest(type, args), (err) => {
        if (err) reject(this.failure ?? new GearmanError(this.server, 'connection', describeSocketError(err), { cause: err }));
        else resolve();
      });
    });
  }

  /**
   * The next packet from the server (NOOP wake-ups aside), waited for until
   * `deadline` (ms since the epoch). An ERROR packet rejects with a
   * GearmanError of kind `server`. A wait that times out closes the
   * connection: an answer arriving later would be taken for the answer to
   * the next request.
   */
  receive(deadline: number, awaited: string): Promise<Packet> {
    const queued = this.packets.shift();
    if (queued) return settled(queued, this.server);
    if (this.failure) return Promise.reject(this.failure);
    const waitMs = Math.max(0, deadline - Date.now());
    return new Promise<Packet>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        const timeout = new GearmanError(this.server, 'timeout', `no ${awaited} within ${waitMs} ms`);
        this.close(timeout);
        reject(timeout);
      }, waitMs);
      this.waiter = {
        resolve: (packet) => {
          clearTimeout(timer);
          settled(packet, this.server).then(resolve, reject);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  /** Destroys the socket; a pending receive rejects (with `reason`, or as cancelled). */
  close(reason?: GearmanError): void {
    this.fail(reason ?? new GearmanError(this.server, 'cancelled', 'the connection was closed'));
  }

  private deliver(packet: Packet): void {
    // Wake-ups come only after PRE_SLEEP, which is never sent; one arriving anyway means nothing.
    if (packet.type === PACKET.NOOP) return;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.resolve(packet);
    } else {
      this.packets.push(packet);
    }
  }

  private fail(error: GearmanError): void {
    if (this.failure) return;
    this.failure = error;
    this.socket.destroy();
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }
}

/** The packet, or the error an ERROR packet stands for. */
function settled(packet: Packet, server: string): Promise<Packet> {
  if (packet.type !== PACKET.ERROR) return Promise.resolve(packet);
  const [code, text] = packet.args.map((a) => a.toString('utf8'));
  return Promise.reject(new GearmanError(server, 'server', `the server answered ${code ?? 'ERROR'}: ${text ?? ''}`.trim()));
}

/** A packet that is not the answer a request expects. */
export function unexpected(server: string, packet: Packet, expected: string): GearmanError {
  return new GearmanError(server, 'protocol', `expected ${expected}, got ${packetName(packet.type)}`);
}

function describeSocketError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ECONNRESET': return 'connection reset by the server';
    case 'EPIPE': return 'the server closed the connection';
    case 'ENOTFOUND': return 'host not found';
    case 'EHOSTUNREACH': return 'host unreachable';
    case 'ENETUNREACH': return 'network unreachable';
    default: return err.code ? `${err.message} (${err.code})` : err.message;
  }
}
