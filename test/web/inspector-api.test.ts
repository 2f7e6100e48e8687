/**
 * The inspector page's API over real HTTP on 127.0.0.1, served from
 * nodepoold's real host on a simulated clock (SQLite and MariaDB): the
 * pool, the live actors a page at a time, one node in full with its chart,
 * and the state changes as Server-Sent Events.
 */
import { request } from 'node:http';
import { pino } from 'pino';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { InspectorApi } from '../../src/web/inspector-api.js';
import { startStatusServer, type StatusServer } from '../../src/web/index.js';
import { tempDir } from '../support/config-files.js';
import { describeEachBackend } from '../support/databases.js';
import { harnessDatabase, startHarness, type Harness } from '../support/harness.js';
import { oneProviderConfig } from '../support/one-provider.js';

const silent = pino({ level: 'silent' });

interface ChartNode {
  key: string;
  path: string;
  type: string;
  initial: string | null;
  transitions: { event: string; targets: string[] }[];
  children: ChartNode[];
}

function findState(node: ChartNode, path: string): ChartNode | undefined {
  if (node.path === path) return node;
  for (const child of node.children) {
    const found = findState(child, path);
    if (found) return found;
  }
  return undefined;
}

/** Reads an event stream until `until` is true of the events so far, bounded; `opened` once the server answered. */
function readEvents(url: string, until: (events: { event: string; data: unknown }[]) => boolean, timeoutMs = 5_000) {
  let opened!: () => void;
  const open = new Promise<void>((resolve) => {
    opened = resolve;
  });
  const done = new Promise<{ event: string; data: unknown }[]>((resolve, reject) => {
    const events: { event: string; data: unknown }[] = [];
    const req = request(url, (response) => {
      opened();
      let buffer = '';
      response.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) as unknown });
          if (until(events)) {
            clearTimeout(timer);
            req.destroy();
            resolve(events);
          }
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`the events did not come within ${timeoutMs} ms: ${JSON.stringify(events)}`));
    }, timeoutMs);
    req.end();
  });
  return { open, done };
}

describeEachBackend('the inspector page’s API', (backend) => {
  const database = harnessDatabase(backend);
  let db: Database;
  let server: StatusServer | undefined;
  beforeEach(() => {
    db = database();
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serve(h: Harness): Promise<string> {
    const inspector = new InspectorApi({
      roots: () => h.host.roots(),
      inspection: h.host.inspection,
      db: h.db,
      get config() {
        return h.host.config;
      },
      quotaHeadroom: () => undefined,
      now: () => h.clock.now(),
      demand: () => ({ small: 3 }),
      showsNodes: true,
    });
    server = await startStatusServer({ listen: '127.0.0.1', port: 0, db: h.db, labels: () => h.host.config.labels, inspector, log: silent });
    return server.url;
  }
  const get = async (url: string) => {
    const response = await fetch(url);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('shows the pool, the live actors a page at a time, and a node with its chart, timeline and why', async () => {
    const dir = tempDir();
    const h = await startHarness({ db, dir, config: oneProviderConfig(dir, backend.uri, { minReady: 3 }) });
    await h.until('3 ready nodes', async () => (await db.nodes.list({ state: 'ready' })).length === 3);
    await h.host.flush();
    const url = await serve(h);

    const pool = (await get(`${url}/api/pool`)).body as { labels: { name: string; minReady: number; demand: number; counts: Record<string, number> }[]; providers: { name: string; maxServers: number; nodes: number }[] };
    expect(pool.labels).toEqual([{ name: 'small', minReady: 3, demand: 3, counts: { building: 0, test: 0, ready: 3, used: 0, hold: 0, delete: 0 } }]);
    expect(pool.providers).toEqual([{ name: 'fake-a', maxServers: 10, quotaHeadroom: null, nodes: 3, retired: false }]);

    const page = (await get(`${url}/api/actors?offset=0&limit=2`)).body as { total: number; actors: { id: string; machine: string; state: string; parent: string | null }[] };
    expect(page.total).toBe(5);
    expect(page.actors).toEqual([
      { id: 'pool', machine: 'pool', state: expect.any(String) as string, parent: null },
      { id: 'provider-fake-a', machine: 'provider', state: expect.any(String) as string, parent: 'pool' },
    ]);
    const nodes = (await get(`${url}/api/actors?machine=node&state=ready`)).body as typeof page;
    const [node] = await db.nodes.list({ state: 'ready' });
    expect(nodes.actors.map((a) => a.id)).toContain(`node-${node?.id}`);
    expect(nodes.actors.every((a) => a.parent === 'provider-fake-a')).toBe(true);
    expect((await fetch(`${url}/api/actors?limit=x`)).status).toBe(400);

    const detail = (await get(`${url}/api/actors/${node?.id}`)).body as { id: string; state: string; context: Record<string, unknown>; timeline: { to: string }[]; why: string; chart: { id: string; root: ChartNode } };
    expect(detail.id).toBe(`node-${node?.id}`);
    expect(detail.state).toBe('ready');
    expect(detail.context.serverId).toBe(node?.externalId);
    expect(detail.timeline.at(-1)?.to).toBe('ready');
    expect(detail.why).toContain(`Node ${node?.id}`);
    expect(detail.chart.id).toBe('node');
    const building = findState(detail.chart.root, 'building');
    expect(building?.type).toBe('compound');
    expect(building?.initial).toBe('decide');
    expect(building?.children.map((c) => c.key)).toContain('creating');
    expect(findState(detail.chart.root, 'building.waitingForServer')?.type).toBe('atomic');
    expect(detail.chart.root.children.map((c) => c.key)).toContain('ready');
    expect(findState(detail.chart.root, 'ready')?.transitions.some((t) => t.event === 'job.started' && t.targets.includes('used'))).toBe(true);
    // A delete is taken in every state: the root's transition.
    expect(detail.chart.root.transitions.some((t) => t.event === 'delete')).toBe(true);
    const missing = await get(`${url}/api/actors/node-999999`);
    expect(missing.status).toBe(404);
  });

  it('streams a node’s change of state within a second', async () => {
    const dir = tempDir();
    const h = await startHarness({ db, dir, config: oneProviderConfig(dir, backend.uri, { minReady: 1 }) });
    const node = await h.until('a ready node', async () => (await db.nodes.list({ state: 'ready' }))[0]);
    const url = await serve(h);
    const held = readEvents(`${url}/api/events`, (events) =>
      events.some((e) => e.event === 'states' && (e.data as { id: string; state: string }[]).some((s) => s.id === `node-${node.id}` && s.state === 'hold')),
    );
    // The hold is asked for once the stream is open.
    await held.open;
    await db.transaction(async (tx) => {
      await tx.nodes.setState(node.id, 'hold', 'look at it');
      await tx.changes.append('node', node.id, 'hold');
    });
    const started = Date.now();
    await h.settle('the hold streamed', held.done, { stepMs: 100 });
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
