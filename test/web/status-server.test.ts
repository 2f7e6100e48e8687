/**
 * The status server in this process over real HTTP on 127.0.0.1, with a
 * real SQLite database whose repositories are wrapped to count queries.
 * The daemon as a process is in test/integration/web.test.ts.
 */
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { codeOf } from '../../src/core/errors.js';
import { startStatusServer, type ReadinessProbe, type StatusServer } from '../../src/web/index.js';
import { createTempSqliteUri } from '../support/databases.js';

const silent = pino({ level: 'silent' });
const labels = [{ name: 'small', minReady: 2 }, { name: 'large', minReady: 1 }];

let db: Database;
let server: StatusServer;
let nodeQueries = 0;
let readiness: ReadinessProbe;

beforeAll(async () => {
  db = await openDatabase(createTempSqliteUri());
  await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', state: 'ready', hostname: 'small-fake-a-1' });
  await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', state: 'building', hostname: 'small-fake-a-2' });
  await db.nodes.create({ provider: 'fake-a', label: 'gone', target: 'local', state: 'hold', hostname: 'gone-fake-a-3' });
  const counted = {
    ...db,
    nodes: Object.assign(Object.create(db.nodes) as Database['nodes'], {
      list: (...args: Parameters<Database['nodes']['list']>) => {
        nodeQueries += 1;
        return db.nodes.list(...args);
      },
    }),
  };
  readiness = { pingDatabase: async () => {}, config: () => ({ providers: [] }), serverList: () => undefined, now: Date.now };
  server = await startStatusServer({
    listen: '127.0.0.1',
    port: 0,
    db: counted,
    labels: () => labels,
    // Stands for whatever the daemon knows at the time of each request.
    readiness: { pingDatabase: () => readiness.pingDatabase(), config: () => readiness.config(), serverList: (p) => readiness.serverList(p), now: () => readiness.now() },
    log: silent,
    cacheMs: 60_000,
  });
});

afterAll(async () => {
  await server?.close();
  await db?.close();
});

const get = async (path: string, init?: RequestInit) => {
  const response = await fetch(`${server.url}${path}`, init);
  return { status: response.status, body: await response.text(), type: response.headers.get('content-type'), allow: response.headers.get('allow') };
};

describe('the status web server', () => {
  it('listens on the port it was given, port 0 being any free one', () => {
    expect(server.address.host).toBe('127.0.0.1');
    expect(server.address.port).toBeGreaterThan(0);
  });

  it('answers 100 concurrent requests with one query of the nodes', async () => {
    const before = nodeQueries;
    const pages = await Promise.all(Array.from({ length: 100 }, (_, i) => get(i % 2 === 0 ? '/node-list' : '/node-list.json')));
    expect(pages.every((p) => p.status === 200)).toBe(true);
    expect(nodeQueries - before).toBe(1);
  });

  it('counts each label’s nodes per state, a label left only by its nodes last', async () => {
    const page = await get('/label-list');
    expect(page.body).toBe(
      [
        '+-------+-----------+----------+------+-------+------+------+--------+',
        '| Label | Min Ready | Building | Test | Ready | Used | Hold | Delete |',
        '+-------+-----------+----------+------+-------+------+------+--------+',
        '| small | 2         | 1        | 0    | 1     | 0    | 0    | 0      |',
        '| large | 1         | 0        | 0    | 0     | 0    | 0    | 0      |',
        '| gone  |           | 0        | 0    | 0     | 0    | 1    | 0      |',
        '+-------+-----------+----------+------+-------+------+------+--------+',
        '',
      ].join('\n'),
    );
    const rows = JSON.parse((await get('/label-list.json')).body) as unknown[];
    expect(rows[0]).toEqual({ label: 'small', min_ready: 2, building: 1, test: 0, ready: 1, used: 0, hold: 0, delete: 0 });
    expect(rows[2]).toMatchObject({ label: 'gone', min_ready: null, hold: 1 });
  });

  it('refuses what it does not serve: 405 for a write, 404 for an unknown page, 400 for a bad query', async () => {
    const post = await get('/node-list', { method: 'POST' });
    expect(post).toMatchObject({ status: 405, allow: 'GET, HEAD' });
    expect(post.body).toBe('POST is not allowed: the status server is read-only\n');
    const missing = await get('/nodes');
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('/node-list');
    for (const query of ['node_id=abc', 'node_id=0', 'node_id=-1', 'node_id=1&node_id=2', 'id=1']) {
      const bad = await get(`/node-list?${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.body.trim().split('\n'), query).toHaveLength(1);
    }
    expect((await get('/image-list?node_id=1')).status).toBe(400);
    expect((await get('/healthz?x=1')).status).toBe(400);
  });

  it('says ok at /healthz, and at /readyz 200 or 503 with one reason a line', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get('/readyz')).toMatchObject({ status: 200, body: 'ready\n' });
    const ready = readiness;
    readiness = {
      pingDatabase: () => Promise.reject(new Error('SQLITE_BUSY: database is locked')),
      config: () => ({ providers: [{ name: 'fake-a', rate: 1 }] }) as never,
      serverList: () => ({ succeededAt: Date.now() - 1_000, failure: { at: Date.now(), message: 'HTTP 500 from nova' } }),
      now: Date.now,
    };
    try {
      const page = await get('/readyz');
      expect(page.status).toBe(503);
      expect(page.body.trim().split('\n')).toEqual([
        'the database does not answer: SQLITE_BUSY: database is locked',
        'provider fake-a: the last server list failed 0 s ago: HTTP 500 from nova',
      ]);
    } finally {
      readiness = ready;
    }
  });

  it('refuses a port in use with NP_WEBAPP_PORT_IN_USE naming the address', async () => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const start = startStatusServer({ listen: '127.0.0.1', port, db, labels: () => [], readiness, log: silent });
      const err: unknown = await start.then(() => undefined, (e: unknown) => e);
      expect(codeOf(err)).toBe('NP_WEBAPP_PORT_IN_USE');
      expect((err as Error).message).toContain(`127.0.0.1:${port}`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('serves /metrics from its source with the source’s content type, and 503 with the reason when the source fails', async () => {
    let failing = false;
    const metricsServer = await startStatusServer({
      listen: '127.0.0.1', port: 0, db, labels: () => [], log: silent,
      metrics: {
        contentType: 'text/plain; version=0.0.4; charset=utf-8',
        text: async () => {
          if (failing) throw new Error('the database is gone');
          return 'nodepool_nodes{provider="a",label="small",state="ready"} 3\n';
        },
      },
    });
    try {
      const ok = await fetch(`${metricsServer.url}/metrics`);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(await ok.text()).toBe('nodepool_nodes{provider="a",label="small",state="ready"} 3\n');
      failing = true;
      const failed = await fetch(`${metricsServer.url}/metrics`);
      expect(failed.status).toBe(503);
      expect(await failed.text()).toBe('the metrics could not be read: the database is gone\n');
    } finally {
      await metricsServer.close();
    }
    // Without a source there is no such page.
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
  });
});
