/**
 * The status server's view of several nodepoold sharing one database, over
 * real HTTP on 127.0.0.1 (SQLite and MariaDB): /provider-list and
 * /daemon-list (text and JSON, the commands' rows), the Manager column of
 * /node-list from the provider leases, and the daemons in /api/pool.
 */
import { pino } from 'pino';
import { Subject } from 'rxjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import type { NodepoolConfig } from '../../src/config/types.js';
import { ALLOCATION_LEASE, providerLease } from '../../src/core/leases.js';
import type { Database } from '../../src/db/index.js';
import { daemonJson, daemonRows, daemonTable, providerJson, providerRows, providerTable } from '../../src/listings/index.js';
import { InspectorApi } from '../../src/web/inspector-api.js';
import { BUILDER_LISTINGS, startStatusServer, type StatusServer } from '../../src/web/index.js';
import { describeEachBackend } from '../support/databases.js';

const silent = pino({ level: 'silent' });
const A = 'nodepoold:host-a:101';
const B = 'nodepoold:host-b:202';
const MINUTE = 60_000;
const providers = [{ name: 'fake-a', maxServers: 4 }, { name: 'fake-b', maxServers: 6 }];

describeEachBackend('the status server with several nodepoold on one database', (backend) => {
  let db: Database;
  let server: StatusServer;
  let builder: StatusServer;
  const now = Date.now();

  beforeAll(async () => {
    db = await backend.open();
    await db.daemons.heartbeat({ name: A, host: 'host-a', pid: 101, startedAt: now - 90 * MINUTE, web: 'http://127.0.0.1:8005' }, 10 * MINUTE, now);
    await db.daemons.heartbeat({ name: B, host: 'host-b', pid: 202, startedAt: now - 30 * MINUTE, web: null }, 10 * MINUTE, now);
    await db.daemons.setDraining(B, true);
    await db.leases.tryAcquire(providerLease('fake-a'), A, 10 * MINUTE, now);
    await db.leases.tryAcquire(providerLease('fake-b'), B, MINUTE, now - 5 * MINUTE);
    await db.leases.tryAcquire(ALLOCATION_LEASE, A, 10 * MINUTE, now);
    await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', state: 'ready', hostname: 'small-fake-a-1' });
    await db.nodes.create({ provider: 'fake-a', label: 'small', target: 'local', state: 'ready', hostname: 'small-fake-a-2', manager: 'zuul-launcher-2' });
    await db.nodes.create({ provider: 'fake-b', label: 'small', target: 'local', state: 'ready', hostname: 'small-fake-b-3' });
    const config = { labels: [{ name: 'small', minReady: 1 }], providers } as unknown as NodepoolConfig;
    const inspector = new InspectorApi({
      roots: () => [], inspection: new Subject<InspectionEvent>(), db, config, quotaHeadroom: () => undefined, now: Date.now, showsNodes: true,
    });
    server = await startStatusServer({ listen: '127.0.0.1', port: 0, db, labels: () => config.labels, providers: () => providers, inspector, log: silent, cacheMs: 0 });
    builder = await startStatusServer({ listen: '127.0.0.1', port: 0, db, labels: () => [], offered: BUILDER_LISTINGS, log: silent });
  });
  afterAll(async () => {
    await server?.close();
    await builder?.close();
  });

  const get = async (path: string, on = server) => {
    const response = await fetch(`${on.url}${path}`);
    return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
  };

  it('/provider-list and its .json are the rows of `nodepool provider-list`', async () => {
    const page = await get('/provider-list');
    expect(page.status).toBe(200);
    expect(page.type).toBe('text/plain; charset=utf-8');
    const lines = page.body.trim().split('\n');
    expect(lines[1]).toMatch(/^\| Provider +\| Manager +\| Lease +\| Expires +\| Nodes +\| Max Servers \|$/);
    expect(lines[3]).toMatch(/^\| fake-a +\| host-a:101 \| held +\| \d+ +\| 2 +\| 4 +\|$/);
    expect(lines[4]).toMatch(/^\| fake-b +\| +\| lapsed 2\d\ds ago \| +\| 1 +\| 6 +\|$/);
    const json = await get('/provider-list.json');
    expect(json.type).toBe('application/json; charset=utf-8');
    const rows = JSON.parse(json.body) as Record<string, unknown>[];
    expect(rows.map((r) => [r.provider, r.manager, r.lease, r.nodes, r.max_servers])).toEqual([
      ['fake-a', 'host-a:101', 'held', 2, 4],
      ['fake-b', null, 'lapsed', 1, 6],
    ]);
    // The same function draws the command's table, so for the same records the page is the command's output.
    const at = Date.now();
    const drawn = providerRows(providers, await db.leases.listWithPrefix('provider:'), await db.nodes.countBy(), at);
    expect(rows).toEqual(drawn.map(providerJson).map((r) => ({ ...r, expires_in: expect.any(Number) as number })));
    expect(providerTable(drawn).split('\n')[1]).toBe(lines[1]);
  });

  it('/daemon-list and its .json are the rows of `nodepool daemon-list`', async () => {
    const page = await get('/daemon-list');
    expect(page.status).toBe(200);
    const lines = page.body.trim().split('\n');
    expect(lines[1]).toMatch(/^\| Name +\| Host +\| PID +\| Started +\| Last Seen +\| State +\| Providers +\| Allocates +\| Web +\|$/);
    expect(lines[3]).toMatch(/^\| host-a:101 \| host-a \| 101 \| 00:01:30:\d\d \| 00:00:00:\d\d \| alive +\| fake-a +\| yes +\| http:\/\/127\.0\.0\.1:8005 \|$/);
    expect(lines[4]).toMatch(/^\| host-b:202 \| host-b \| 202 \| 00:00:30:\d\d \| 00:00:00:\d\d \| draining \| +\| no +\| +\|$/);
    const rows = JSON.parse((await get('/daemon-list.json')).body) as Record<string, unknown>[];
    expect(rows.map((r) => [r.name, r.state, r.providers, r.allocates, r.web])).toEqual([
      ['host-a:101', 'alive', ['fake-a'], true, 'http://127.0.0.1:8005'],
      ['host-b:202', 'draining', [], false, null],
    ]);
    const at = Date.now();
    const drawn = daemonRows(await db.daemons.list(), await db.leases.listWithPrefix('provider:'), A, at);
    expect(rows.map((r) => ({ ...r, started: '', last_seen: '' }))).toEqual(drawn.map((r) => ({ ...daemonJson(r, at), started: '', last_seen: '' })));
    expect(daemonTable(drawn, at).split('\n')[1]).toBe(lines[1]);
  });

  it('/node-list shows as Manager the Gearman manager, else the daemon holding the provider, else blank', async () => {
    const rows = JSON.parse((await get('/node-list.json')).body) as { hostname: string; manager: string | null }[];
    expect(rows.map((r) => [r.hostname, r.manager])).toEqual([
      ['small-fake-a-1', 'host-a:101'],
      ['small-fake-a-2', 'zuul-launcher-2'],
      ['small-fake-b-3', null],
    ]);
    const table = (await get('/node-list')).body.split('\n');
    expect(table[3]).toMatch(/^\| \d+ +\| fake-a +\| +\| small +\| local +\| host-a:101 +\| small-fake-a-1 /);
    // One node's page too.
    const [first] = rows as { id?: number }[];
    const one = JSON.parse((await get(`/node-list.json?node_id=${(first as { id: number }).id}`)).body) as { manager: string }[];
    expect(one.map((r) => r.manager)).toEqual(['host-a:101']);
  });

  it('/api/pool lists the daemons with their providers and which allocates', async () => {
    const pool = JSON.parse((await get('/api/pool')).body) as { daemons: Record<string, unknown>[] };
    expect(pool.daemons).toEqual([
      { name: 'host-a:101', host: 'host-a', pid: 101, started: now - 90 * MINUTE, lastSeen: now, state: 'alive', providers: ['fake-a'], allocates: true },
      { name: 'host-b:202', host: 'host-b', pid: 202, started: now - 30 * MINUTE, lastSeen: now, state: 'draining', providers: [], allocates: false },
    ]);
  });

  it('lists the new pages in a 404, and a builder does not offer them', async () => {
    const missing = await get('/nodes');
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('/provider-list');
    expect(missing.body).toContain('/daemon-list');
    expect((await get('/provider-list?x=1')).status).toBe(400);
    expect((await get('/daemon-list', builder)).status).toBe(404);
    expect((await get('/provider-list.json', builder)).status).toBe(404);
  });
});
