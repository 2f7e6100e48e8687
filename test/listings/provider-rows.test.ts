/**
 * The providers' and daemons' rows, drawn from the daemon table and the
 * provider leases as they stand at a given moment: who holds what, what has
 * lapsed, and the Manager of a node no Gearman manager took.
 */
import { describe, expect, it } from 'vitest';
import { ALLOCATION_LEASE, providerLease } from '../../src/core/leases.js';
import type { DaemonRecord, LeaseRecord, NodeRecord } from '../../src/db/records.js';
import {
  daemonJson, daemonRows, daemonTable, nodeJson, nodeManager, nodeTable, providerJson, providerOwners, providerRows, providerTable,
} from '../../src/listings/index.js';

const now = 1_700_000_000_000;
const A = 'nodepoold:host-a:101';
const B = 'nodepoold:host-b:202';

const leases: LeaseRecord[] = [
  { name: providerLease('fake-a'), owner: A, expiresAt: now + 25_400 },
  { name: providerLease('fake-b'), owner: B, expiresAt: now - 12_700 },
  { name: providerLease('retired'), owner: B, expiresAt: now + 5_000 },
];

function daemon(name: string, fields: Partial<DaemonRecord> = {}): DaemonRecord {
  const [, host, pid] = name.split(':');
  return { name, host: host as string, pid: Number(pid), startedAt: now - 3_725_000, renewedAt: now - 2_000, expiresAt: now + 28_000, draining: false, web: null, ...fields };
}

describe('provider rows', () => {
  const configured = [{ name: 'fake-a', maxServers: 10 }, { name: 'fake-b', maxServers: 4 }, { name: 'fake-c', maxServers: 2 }];
  const counts = [
    { provider: 'fake-a', count: 3 }, { provider: 'fake-a', count: 2 }, { provider: 'fake-b', count: 1 }, { provider: 'gone', count: 7 },
  ];

  it('lists the configured providers in order, then those only a lease or a node names, by name', () => {
    const rows = providerRows(configured, leases, counts, now);
    expect(rows.map((r) => [r.provider, r.manager, r.lease, r.expiresIn, r.nodes, r.maxServers])).toEqual([
      ['fake-a', 'host-a:101', 'held', 26, 5, 10],
      // Lapsed: nobody manages it, and the Lease column says since when.
      ['fake-b', undefined, 'lapsed', -12, 1, 4],
      ['fake-c', undefined, 'none', undefined, 0, 2],
      ['gone', undefined, 'none', undefined, 7, undefined],
      ['retired', 'host-b:202', 'held', 5, 0, undefined],
    ]);
  });

  it('draws the table with blanks where nothing holds or nothing is configured, and JSON with stable keys', () => {
    const rows = providerRows(configured, leases, counts, now);
    expect(providerTable(rows)).toBe([
      '+----------+------------+----------------+---------+-------+-------------+',
      '| Provider | Manager    | Lease          | Expires | Nodes | Max Servers |',
      '+----------+------------+----------------+---------+-------+-------------+',
      '| fake-a   | host-a:101 | held           | 26      | 5     | 10          |',
      '| fake-b   |            | lapsed 12s ago |         | 1     | 4           |',
      '| fake-c   |            | none           |         | 0     | 2           |',
      '| gone     |            | none           |         | 7     |             |',
      '| retired  | host-b:202 | held           | 5       | 0     |             |',
      '+----------+------------+----------------+---------+-------+-------------+',
    ].join('\n'));
    expect(rows.map(providerJson)).toEqual([
      { provider: 'fake-a', manager: 'host-a:101', owner: A, lease: 'held', expires_in: 26, nodes: 5, max_servers: 10 },
      { provider: 'fake-b', manager: null, owner: B, lease: 'lapsed', expires_in: -12, nodes: 1, max_servers: 4 },
      { provider: 'fake-c', manager: null, owner: null, lease: 'none', expires_in: null, nodes: 0, max_servers: 2 },
      { provider: 'gone', manager: null, owner: null, lease: 'none', expires_in: null, nodes: 7, max_servers: null },
      { provider: 'retired', manager: 'host-b:202', owner: B, lease: 'held', expires_in: 5, nodes: 0, max_servers: null },
    ]);
  });

  it('a lease is held until the moment it expires, not at it', () => {
    const lease = { name: providerLease('p'), owner: A, expiresAt: now };
    expect(providerRows([], [lease], [], now - 1)[0]?.lease).toBe('held');
    expect(providerRows([], [lease], [], now)[0]?.lease).toBe('lapsed');
    expect(providerOwners([lease], now - 1).get('p')).toBe('host-a:101');
    expect(providerOwners([lease], now).has('p')).toBe(false);
  });
});

describe('daemon rows', () => {
  it('says which providers each holds now, which allocates, and which is draining or dead', () => {
    const daemons = [
      daemon(A),
      daemon(B, { draining: true, web: 'http://10.0.0.2:8005' }),
      daemon('nodepoold:host-c:303', { renewedAt: now - 65_000, expiresAt: now - 35_000 }),
      // Draining but not renewed: dead wins.
      daemon('nodepoold:host-d:404', { draining: true, expiresAt: now }),
    ];
    const rows = daemonRows(daemons, leases, A, now);
    expect(rows.map((r) => [r.label, r.state, r.providers, r.allocates])).toEqual([
      ['host-a:101', 'alive', ['fake-a'], true],
      // Its lapsed fake-b lease is not counted.
      ['host-b:202', 'draining', ['retired'], false],
      ['host-c:303', 'dead', [], false],
      ['host-d:404', 'dead', [], false],
    ]);
    const lines = daemonTable(rows, now).split('\n');
    expect(lines[1]).toMatch(/^\| Name +\| Host +\| PID +\| Started +\| Last Seen +\| State +\| Providers +\| Allocates +\| Web +\|$/);
    expect(lines[3]).toMatch(/^\| host-a:101 \| host-a \| 101 +\| 00:01:02:05 \| 00:00:00:02 +\| alive +\| fake-a +\| yes +\| +\|$/);
    expect(lines[4]).toMatch(/^\| host-b:202 \| host-b \| 202 +\| 00:01:02:05 \| 00:00:00:02 +\| draining \| retired +\| no +\| http:\/\/10\.0\.0\.2:8005 \|$/);
    expect(lines[5]).toMatch(/\| 00:00:01:05 +\| dead +\|/);
    expect(daemonJson(rows[1] as (typeof rows)[number], now)).toEqual({
      name: 'host-b:202', daemon: B, host: 'host-b', pid: 202, started: '00:01:02:05', started_at: now - 3_725_000,
      last_seen: '00:00:00:02', renewed_at: now - 2_000, state: 'draining', providers: ['retired'], allocates: false, web: 'http://10.0.0.2:8005',
    });
  });

  it('nobody allocates when the allocation lease is held by no daemon in the table', () => {
    expect(daemonRows([daemon(A)], [], undefined, now)[0]?.allocates).toBe(false);
    expect(daemonRows([daemon(A)], [], 'nodepoold:elsewhere:1', now)[0]?.allocates).toBe(false);
    expect(ALLOCATION_LEASE).toBeTypeOf('string');
  });
});

describe('the Manager of a node', () => {
  const node = {
    id: 7, provider: 'fake-a', label: 'small', target: 'local', az: null, manager: null, hostname: 'small-7', nodename: 'small-7',
    externalId: 'srv-7', ip: null, state: 'ready', stateTime: now - 1_000, comment: null, job: null,
  } as unknown as NodeRecord;
  const owners = providerOwners(leases, now);

  it('is the Gearman manager that took it, else the nodepoold holding its provider, else blank', () => {
    expect(nodeManager({ ...node, manager: 'zuul-launcher-2' }, owners)).toBe('zuul-launcher-2');
    expect(nodeManager(node, owners)).toBe('host-a:101');
    expect(nodeManager({ ...node, provider: 'fake-b' }, owners)).toBeNull();
    expect(nodeManager(node)).toBeNull();
    expect(nodeJson(node, now, owners).manager).toBe('host-a:101');
    expect(nodeTable([node], now, owners).split('\n')[3]).toMatch(/^\| 7 +\| fake-a +\| +\| small +\| local +\| host-a:101 \| small-7 /);
  });
});
