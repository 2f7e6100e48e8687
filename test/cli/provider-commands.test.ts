/**
 * `nodepool provider-list`, `daemon-list`, `daemon-drain`, `daemon-undrain`
 * and the Manager column of `nodepool list`, run through the program's
 * parser in this process (options, errors and exit codes as the executable
 * has them), over the daemon rows and provider leases that several
 * nodepoold sharing one database would have written (SQLite and MariaDB).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ALLOCATION_LEASE, providerLease } from '../../src/core/leases.js';
import { openDatabase, type Database } from '../../src/db/index.js';
import { runNodepool } from '../../src/cli/nodepool-program.js';
import { runExecutable, type CliResult } from '../support/cli.js';
import { minimalConfig, tempDir, writeConfigFile } from '../support/config-files.js';
import { describeEachBackend } from '../support/databases.js';

const A = 'nodepoold:host-a:101';
const B = 'nodepoold:host-b:202';
const C = 'nodepoold:host-c:303';
const MINUTE = 60_000;

describeEachBackend('the providers and daemons sharing a database', (backend) => {
  let configFile: string;
  let db: Database;
  const nodepool = async (...args: string[]): Promise<CliResult> => {
    let stdout = '';
    let stderr = '';
    const line = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);
    const code = await runNodepool(['-c', configFile, ...args], { out: (text) => (stdout += line(text)), err: (text) => (stderr += line(text)) });
    return { code, stdout, stderr };
  };

  beforeAll(async () => {
    const dir = tempDir();
    configFile = writeConfigFile(dir, minimalConfig({
      dburi: backend.uri,
      providers: [
        { name: 'fake-a', driver: 'fake', 'max-servers': 4, images: [{ name: 'debian', 'min-ram': 1024 }] },
        { name: 'fake-b', driver: 'fake', 'max-servers': 6, images: [{ name: 'debian', 'min-ram': 1024 }] },
        { name: 'fake-c', driver: 'fake', 'max-servers': 2, images: [{ name: 'debian', 'min-ram': 1024 }] },
      ],
    }));
    db = await openDatabase(backend.uri);
    const now = Date.now();
    await db.daemons.heartbeat({ name: A, host: 'host-a', pid: 101, startedAt: now - 90 * MINUTE, web: 'http://127.0.0.1:8005' }, 10 * MINUTE, now);
    await db.daemons.heartbeat({ name: B, host: 'host-b', pid: 202, startedAt: now - 30 * MINUTE, web: null }, 10 * MINUTE, now);
    // Stopped renewing five minutes ago.
    await db.daemons.heartbeat({ name: C, host: 'host-c', pid: 303, startedAt: now - 120 * MINUTE, web: null }, MINUTE, now - 6 * MINUTE);
    await db.leases.tryAcquire(providerLease('fake-a'), A, 10 * MINUTE, now);
    await db.leases.tryAcquire(ALLOCATION_LEASE, A, 10 * MINUTE, now);
    await db.leases.tryAcquire(providerLease('fake-b'), B, 10 * MINUTE, now);
    // C's lease lapsed with it; a provider no longer configured is still held by B.
    await db.leases.tryAcquire(providerLease('fake-c'), C, MINUTE, now - 6 * MINUTE);
    await db.leases.tryAcquire(providerLease('retired'), B, 10 * MINUTE, now);
    const node = { label: 'small', target: 'local', state: 'ready' as const };
    await db.nodes.create({ ...node, provider: 'fake-a', hostname: 'small-fake-a-1' });
    await db.nodes.create({ ...node, provider: 'fake-a', hostname: 'small-fake-a-2', manager: 'zuul-launcher-2' });
    await db.nodes.create({ ...node, provider: 'fake-c', hostname: 'small-fake-c-3' });
    await db.nodes.create({ ...node, provider: 'retired', hostname: 'small-retired-4' });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('provider-list shows each provider with the daemon holding it, its lease, nodes and max-servers', async () => {
    const result = await nodepool('provider-list');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[1]).toMatch(/^\| Provider +\| Manager +\| Lease +\| Expires +\| Nodes +\| Max Servers \|$/);
    expect(lines[3]).toMatch(/^\| fake-a +\| host-a:101 \| held +\| (599|600) +\| 2 +\| 4 +\|$/);
    expect(lines[4]).toMatch(/^\| fake-b +\| host-b:202 \| held +\| (599|600) +\| 0 +\| 6 +\|$/);
    expect(lines[5]).toMatch(/^\| fake-c +\| +\| lapsed (30\d)s ago \| +\| 1 +\| 2 +\|$/);
    expect(lines[6]).toMatch(/^\| retired +\| host-b:202 \| held +\| (599|600) +\| 1 +\| +\|$/);
    expect(lines).toHaveLength(8);

    const json = await nodepool('provider-list', '--json');
    const rows = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(Object.keys(rows[0] ?? {})).toEqual(['provider', 'manager', 'owner', 'lease', 'expires_in', 'nodes', 'max_servers']);
    expect(rows.map((r) => [r.provider, r.manager, r.owner, r.lease, r.nodes, r.max_servers])).toEqual([
      ['fake-a', 'host-a:101', A, 'held', 2, 4],
      ['fake-b', 'host-b:202', B, 'held', 0, 6],
      ['fake-c', null, C, 'lapsed', 1, 2],
      ['retired', 'host-b:202', B, 'held', 1, null],
    ]);
    expect(rows[2]?.expires_in).toBeLessThan(-299);
  });

  it('daemon-list shows each daemon, its state, the providers it holds now and whether it allocates', async () => {
    const result = await nodepool('daemon-list');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[1]).toMatch(/^\| Name +\| Host +\| PID +\| Started +\| Last Seen +\| State +\| Providers +\| Allocates +\| Web +\|$/);
    // Oldest start first.
    expect(lines[3]).toMatch(/^\| host-c:303 \| host-c \| 303 \| 00:02:00:\d\d \| 00:00:0[56]:\d\d \| dead +\| +\| no +\| +\|$/);
    expect(lines[4]).toMatch(/^\| host-a:101 \| host-a \| 101 \| 00:01:30:\d\d \| 00:00:00:\d\d \| alive +\| fake-a +\| yes +\| http:\/\/127\.0\.0\.1:8005 \|$/);
    expect(lines[5]).toMatch(/^\| host-b:202 \| host-b \| 202 \| 00:00:30:\d\d \| 00:00:00:\d\d \| alive +\| fake-b,retired \| no +\| +\|$/);

    const rows = JSON.parse((await nodepool('daemon-list', '--json')).stdout) as Record<string, unknown>[];
    expect(rows.map((r) => [r.name, r.daemon, r.state, r.providers, r.allocates])).toEqual([
      ['host-c:303', C, 'dead', [], false],
      ['host-a:101', A, 'alive', ['fake-a'], true],
      ['host-b:202', B, 'alive', ['fake-b', 'retired'], false],
    ]);
    expect(Object.keys(rows[0] ?? {})).toEqual(['name', 'daemon', 'host', 'pid', 'started', 'started_at', 'last_seen', 'renewed_at', 'state', 'providers', 'allocates', 'web']);
  });

  it('daemon-drain and daemon-undrain set the flag by full name or host:pid, and daemon-list shows it', async () => {
    const drained = await nodepool('daemon-drain', 'host-b:202');
    expect(drained.stderr).toBe('');
    expect(drained.code).toBe(0);
    expect(drained.stdout.trim()).toBe('Daemon host-b:202 is draining: at its next beat it hands its providers over to the other daemons.');
    expect((await db.daemons.get(B))?.draining).toBe(true);
    expect((await db.daemons.get(A))?.draining).toBe(false);
    const listed = JSON.parse((await nodepool('daemon-list', '--json')).stdout) as { name: string; state: string }[];
    expect(listed.find((d) => d.name === 'host-b:202')?.state).toBe('draining');

    const undrained = await nodepool('daemon-undrain', B);
    expect(undrained.code).toBe(0);
    expect(undrained.stdout.trim()).toBe('Daemon host-b:202 is no longer draining: it takes providers again at its next beat.');
    expect((await db.daemons.get(B))?.draining).toBe(false);
  });

  it('a daemon that is not there is refused, exit 1, naming what was given and the known daemons', async () => {
    for (const command of ['daemon-drain', 'daemon-undrain']) {
      const result = await nodepool(command, 'host-z:999');
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr.trim()).toBe('nodepool: No daemon host-z:999; known daemons: host-c:303, host-a:101, host-b:202.');
    }
    expect((await db.daemons.list()).map((d) => d.draining)).toEqual([false, false, false]);
    const usage = await nodepool('daemon-drain');
    expect(usage.code).toBe(2);
  });

  it('list shows as Manager the Gearman manager that took a node, else the daemon holding its provider, else blank', async () => {
    const rows = JSON.parse((await nodepool('list', '--json')).stdout) as { hostname: string; manager: string | null }[];
    expect(rows.map((r) => [r.hostname, r.manager])).toEqual([
      ['small-fake-a-1', 'host-a:101'],
      ['small-fake-a-2', 'zuul-launcher-2'],
      // fake-c's lease lapsed: nobody manages it now.
      ['small-fake-c-3', null],
      ['small-retired-4', 'host-b:202'],
    ]);
    const lines = (await nodepool('list')).stdout.trim().split('\n');
    expect(lines[3]).toMatch(/^\| \d+ +\| fake-a +\| +\| small +\| local +\| host-a:101 +\| small-fake-a-1 /);
    expect(lines[5]).toMatch(/^\| \d+ +\| fake-c +\| +\| small +\| local +\| +\| small-fake-c-3 /);
  });

  it('the executable (from its bundle) runs them too', async () => {
    const listed = await runExecutable('nodepool', ['-c', configFile, 'daemon-list', '--json']);
    expect(listed.stderr).toBe('');
    expect((JSON.parse(listed.stdout) as { name: string }[]).map((d) => d.name)).toEqual(['host-c:303', 'host-a:101', 'host-b:202']);
    const refused = await runExecutable('nodepool', ['-c', configFile, 'daemon-drain', 'nobody']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('No daemon nobody; known daemons:');
    const help = await runExecutable('nodepool', ['--help']);
    for (const command of ['provider-list', 'daemon-list', 'daemon-drain', 'daemon-undrain']) expect(help.stdout).toContain(command);
  });
});
