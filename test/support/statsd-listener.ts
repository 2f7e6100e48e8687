/**
 * A statsd collector for tests: a real UDP socket on 127.0.0.1 that parses
 * every line of every packet (`key:value|type[|@rate]`). A line that does
 * not parse is kept in `malformed`, so a test can assert there is none.
 */
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface StatsdLine {
  key: string;
  value: number;
  type: 'c' | 'ms' | 'g';
}

export interface StatsdListener {
  port: number;
  lines: StatsdLine[];
  malformed: string[];
  /** The sum of a counter's increments. */
  count(key: string): number;
  /** Every timing sent on a key, in order. */
  timings(key: string): number[];
  /** The last value a gauge was set to. */
  gauge(key: string): number | undefined;
  keys(): Set<string>;
  close(): Promise<void>;
}

const LINE = /^([^:|@\s]+):(-?\d+(?:\.\d+)?)\|(c|ms|g)(?:\|@\d+(?:\.\d+)?)?$/;

export async function startStatsdListener(): Promise<StatsdListener> {
  const socket = createSocket('udp4');
  const lines: StatsdLine[] = [];
  const malformed: string[] = [];
  socket.on('message', (packet) => {
    for (const text of packet.toString('utf8').split('\n')) {
      if (text === '') continue;
      const match = LINE.exec(text);
      if (!match) malformed.push(text);
      else lines.push({ key: match[1] as string, value: Number(match[2]), type: match[3] as StatsdLine['type'] });
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address() as AddressInfo;
  const of = (key: string, type: StatsdLine['type']) => lines.filter((l) => l.key === key && l.type === type);
  return {
    port,
    lines,
    malformed,
    count: (key) => of(key, 'c').reduce((sum, l) => sum + l.value, 0),
    timings: (key) => of(key, 'ms').map((l) => l.value),
    gauge: (key) => of(key, 'g').at(-1)?.value,
    keys: () => new Set(lines.map((l) => l.key)),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
