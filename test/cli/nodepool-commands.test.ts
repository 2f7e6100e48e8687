import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { runExecutable } from '../support/cli.js';
import { minimalConfig, tempDir, writeConfigFile } from '../support/config-files.js';
import { describeEachBackend } from '../support/databases.js';

/** The node rows a daemon would have written, for the commands to act on. */
async function seedNodes(db: Database): Promise<number[]> {
  const fields = { provider: 'fake-a', label: 'small', target: 'local', manager: 'np1', az: 'az1' } as const;
  const a = await db.nodes.create({ ...fields, state: 'ready', hostname: 'small-fake-a-1', nodename: 'small-fake-a-1', externalId: 'srv-1', ip: '127.0.0.11' });
  const b = await db.nodes.create({ ...fields, state: 'used', hostname: 'small-fake-a-2', nodename: 'small-fake-a-2', externalId: 'srv-2', ip: '127.0.0.12' });
  await db.nodes.update(b.id, { job: 'gate-nova-python3' });
  return [a.id, b.id];
}

describeEachBackend('nodepool commands over the database', (backend) => {
  let dir: string;
  let configFile: string;
  let db: Database;
  let ids: number[];
  const nodepool = (...args: string[]) => runExecutable('nodepool', ['-c', configFile, ...args]);

  beforeAll(async () => {
    dir = tempDir();
    configFile = writeConfigFile(dir, minimalConfig({ dburi: backend.uri }));
    db = await openDatabase(backend.uri);
    ids = await seedNodes(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('list shows every node in a PrettyTable with the upstream columns', async () => {
    const result = await nodepool('list');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[1]).toMatch(
      /^\| ID +\| Provider +\| AZ +\| Label +\| Target +\| Manager +\| Hostname +\| NodeName +\| Server ID +\| IP +\| State +\| Age +\| Comment +\| Job +\|$/,
    );
    expect(lines).toHaveLength(6);
    expect(lines[3]).toMatch(new RegExp(`^\\| ${ids[0]} +\\| fake-a +\\| az1 +\\| small .*\\| srv-1 +\\| 127\\.0\\.0\\.11 +\\| ready +\\| 00:00:\\d\\d:\\d\\d +\\| +\\| +\\|$`));
    // A used node shows the job it is used by, in the last column.
    expect(lines[4]).toMatch(/\| used +\| 00:00:\d\d:\d\d +\| +\| gate-nova-python3 \|$/);
  });

  it('list --json prints the same rows with upstream keys', async () => {
    const result = await nodepool('list', '--json');
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(rows.map((r) => [r.id, r.state, r.server_id, r.node_name])).toEqual([
      [ids[0], 'ready', 'srv-1', 'small-fake-a-1'],
      [ids[1], 'used', 'srv-2', 'small-fake-a-2'],
    ]);
    expect(Object.keys(rows[0] ?? {})).toEqual([
      'id', 'provider', 'AZ', 'label', 'target', 'manager', 'hostname', 'node_name', 'server_id', 'ip', 'state', 'age', 'comment', 'job',
    ]);
    expect(rows.map((r) => r.job)).toEqual([null, 'gate-nova-python3']);
  });

  it('hold puts the node in hold with the reason, prints it, and logs the change for the daemon', async () => {
    const before = await db.changes.latestId();
    const result = await nodepool('hold', String(ids[0]), '--reason', 'debugging a flaky test');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\| hold +\| [\d:]+ +\| debugging a flaky test \|/);
    const node = await db.nodes.get(ids[0] as number);
    expect(node?.state).toBe('hold');
    expect(node?.comment).toBe('debugging a flaky test');
    const changes = await db.changes.since(before, 10);
    expect(changes.map((c) => [c.kind, c.recordId, c.action])).toEqual([['node', ids[0], 'hold']]);
  });

  it('delete marks the node for deletion and prints it', async () => {
    const result = await nodepool('delete', String(ids[1]));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\| delete +\|/);
    expect((await db.nodes.get(ids[1] as number))?.state).toBe('delete');
  });

  it('hold refuses a node that is being deleted and changes nothing', async () => {
    const result = await nodepool('hold', String(ids[1]));
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`nodepool: Node ${ids[1]} is being deleted; it cannot be held.`);
    expect((await db.nodes.get(ids[1] as number))?.state).toBe('delete');
  });

  it('an unknown node id says so, exits 1 and changes nothing', async () => {
    const before = await db.changes.latestId();
    for (const args of [['hold', '999999'], ['delete', '999999'], ['delete', '999999', '--now']]) {
      const result = await nodepool(...args);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe('nodepool: Node 999999 not found.');
      expect(result.stdout).toBe('');
    }
    expect(await db.changes.latestId()).toBe(before);
    expect((await db.nodes.list()).map((n) => n.state)).toEqual(['hold', 'delete']);
  });

  it('jobs are created, listed, and deleted', async () => {
    const created = await nodepool('job-create', 'gate-nova-python3', '--hold-on-failure', '2');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/\| ID +\| Name +\| Hold on Failure \|/);
    expect(created.stdout).toMatch(/\| gate-nova-python3 +\| 2 +\|/);

    const listed = await nodepool('job-list', '--json');
    const jobs = JSON.parse(listed.stdout) as { id: number; name: string; hold_on_failure: number }[];
    expect(jobs.map((j) => [j.name, j.hold_on_failure])).toEqual([['gate-nova-python3', 2]]);

    const duplicate = await nodepool('job-create', 'gate-nova-python3');
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('Job gate-nova-python3 already exists.');

    const deleted = await nodepool('job-delete', String(jobs[0]?.id));
    expect(deleted.code).toBe(0);
    expect(await db.jobs.list()).toEqual([]);

    const missing = await nodepool('job-delete', String(jobs[0]?.id));
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`nodepool: Job ${jobs[0]?.id} not found.`);
  });

  it('job-create without --hold-on-failure holds none', async () => {
    const created = await nodepool('job-create', 'periodic-docs', '--json');
    expect(created.code).toBe(2);
    const plain = await nodepool('job-create', 'periodic-docs');
    expect(plain.code).toBe(0);
    expect((await db.jobs.getByName('periodic-docs'))?.holdOnFailure).toBe(0);
  });

  it('input the database cannot hold is refused before it, with one line and the same on every backend; nothing changes', async () => {
    const before = await db.changes.latestId();
    const cases: [string[], RegExp][] = [
      [['hold', String(ids[1]), '--reason', 'x'.repeat(70_000)], /is 70000 characters long \(at most 4096\)/],
      [['job-create', 'j'.repeat(256)], /is 256 characters long \(at most 255\)/],
      [['job-create', 'big', '--hold-on-failure', '2147483648'], /too large \(at most 2147483647\)/],
      [['hold', '9007199254740993'], /'9007199254740993' is too large to be an id/],
      [['job-create', ''], /must not be empty/],
      [['job-create', 'two\nlines'], /must be one line/],
      [['job-create', 'bad-\uFFFD-bytes'], /is not valid UTF-8/],
    ];
    for (const [args, message] of cases) {
      const result = await nodepool(...args);
      expect(result.code, args[0]).toBe(2);
      expect(result.stderr, args[0]).toMatch(message);
      expect(result.stderr, args[0]).not.toMatch(/insert into|update `|select /i);
      expect(result.stderr.length, args[0]).toBeLessThan(1_000);
    }
    expect(await db.changes.since(before, 10)).toEqual([]);
    expect((await db.nodes.get(ids[1] as number))?.comment ?? '').not.toContain('xxxx');
  });

  it('quotes and SQL metacharacters in a reason and a job name round-trip unchanged', async () => {
    const reason = `it's "odd"; DROP TABLE node; -- \\ % _ \u00e9\u{1F600}`;
    const held = await nodepool('hold', String(ids[0]), '--reason', reason);
    expect(held.code, held.stderr).toBe(0);
    expect((await db.nodes.get(ids[0] as number))?.comment).toBe(reason);
    const name = `job'; DELETE FROM job; --"%_\u00e9`;
    expect((await nodepool('job-create', name)).code).toBe(0);
    const listed = JSON.parse((await nodepool('job-list', '--json')).stdout) as { name: string }[];
    expect(listed.map((j) => j.name)).toContain(name);
  });

  it('nodepool-builder refuses to start without images-dir, naming the key', async () => {
    const builder = await runExecutable('nodepool-builder', ['-d', '-c', configFile]);
    expect(builder.code).toBe(1);
    expect(builder.stderr).toContain('images-dir is not set in the configuration');
    expect(builder.stderr).not.toMatch(/:[^:@/]*@/); // no password in the logged URI
  });
});

describe('nodepool commands without a database', () => {
  it('--help lists the fourteen subcommands in upstream order, then the actor commands, the provider and daemon commands, and the global options', async () => {
    const result = await runExecutable('nodepool', ['--help']);
    expect(result.code).toBe(0);
    const listed = [...result.stdout.matchAll(/^ {2}([a-z][a-z-]*)(?: \[options\]| <| \[|\s)/gm)].map((m) => m[1]);
    expect(listed).toEqual([
      'list', 'image-list', 'dib-image-list', 'image-build', 'alien-list', 'alien-image-list', 'hold', 'delete',
      'image-delete', 'dib-image-delete', 'config-validate', 'job-list', 'job-create', 'job-delete',
      'actor-list', 'actor-show', 'why', 'provider-list', 'daemon-list', 'daemon-drain', 'daemon-undrain',
    ]);
    for (const option of ['-c <CONFIG>', '-s <SECURE>', '-l <LOGCONFIG>', '--version', '--debug', '-h, --help']) {
      expect(result.stdout).toContain(option);
    }
  });

  it('each subcommand has its own --help with its arguments', async () => {
    const hold = await runExecutable('nodepool', ['hold', '--help']);
    expect(hold.code).toBe(0);
    expect(hold.stdout).toContain('--reason <REASON>');
    const imageDelete = await runExecutable('nodepool', ['image-delete', '--help']);
    for (const option of ['--provider', '--image', '--upload-id', '--build-id']) expect(imageDelete.stdout).toContain(option);
  });

  it('the daemons list the options of the 0.4 line', async () => {
    const daemon = await runExecutable('nodepoold', ['--help']);
    expect(daemon.code).toBe(0);
    for (const option of [
      '-c <CONFIG>', '-s <SECURE>', '-d', '-l <LOGCONFIG>', '-p <PIDFILE>', '--no-builder', '--build-workers',
      '--upload-workers', '--no-deletes', '--no-launches', '--no-webapp', '--version',
    ]) {
      expect(daemon.stdout).toContain(option);
    }
    const builder = await runExecutable('nodepool-builder', ['--help']);
    for (const option of ['-c <CONFIG>', '-l <LOGCONFIG>', '-p <PIDFILE>', '-d', '--build-workers', '--upload-workers', '--webapp-port <PORT>', '--no-webapp']) {
      expect(builder.stdout).toContain(option);
    }
    expect(builder.stdout).not.toContain('-s <SECURE>');
  });

  it('--version prints the version on all three', async () => {
    for (const program of ['nodepool', 'nodepoold', 'nodepool-builder'] as const) {
      const result = await runExecutable(program, ['--version']);
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  it('usage errors exit 2: unknown subcommand, missing or malformed id, unknown option', async () => {
    for (const args of [[], ['frobnicate'], ['hold'], ['hold', 'abc'], ['delete', '0'], ['list', '--bogus'], ['job-create', 'x', '--hold-on-failure', '-1']]) {
      const result = await runExecutable('nodepool', args);
      expect(result.code, args.join(' ')).toBe(2);
      // No command at all: the usage, as an error.
      expect(result.stderr, args.join(' ')).toMatch(args.length === 0 ? /^Usage: nodepool/ : /error/);
    }
  });

  it('config-validate says a good file is valid and exits 0', async () => {
    const dir = tempDir();
    const configFile = writeConfigFile(dir, minimalConfig());
    const result = await runExecutable('nodepool', ['-c', configFile, 'config-validate']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n').pop()).toBe('configuration is valid');
  });

  it('config-validate prints every problem with file, line and path, and exits 1', async () => {
    const dir = tempDir();
    const configFile = join(dir, 'nodepool.yaml');
    writeFileSync(
      configFile,
      [
        'labels:',
        '  - name: small',
        '    image: debian',
        '    providers:',
        '      - name: fake-a',
        'providers:',
        '  - name: fake-a',
        '    driver: fake',
        '    max-servers: many',
        '    images:',
        '      - name: debian',
        '        min-ram: -5',
        'targets:',
        '  - name: local',
        'diskimages:',
        '  - name: debian',
        '',
      ].join('\n'),
    );
    const result = await runExecutable('nodepool', ['-c', configFile, 'config-validate']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^${configFile}:9: providers\\[0\\]\\.max-servers: expected an integer`, 'm'));
    expect(result.stdout).toMatch(new RegExp(`^${configFile}:12: providers\\[0\\]\\.images\\[0\\]\\.min-ram: must not be negative`, 'm'));
    expect(result.stdout).not.toContain('configuration is valid');
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it('config-validate reports a label that names a provider that does not exist', async () => {
    const dir = tempDir();
    const config = minimalConfig();
    (config.labels as { providers: { name: string }[] }[])[0]?.providers.push({ name: 'nowhere' });
    const configFile = writeConfigFile(dir, config);
    const result = await runExecutable('nodepool', ['-c', configFile, 'config-validate']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^${configFile}:\\d+: labels\\[0\\]\\.providers\\[1\\]\\.name: .*'nowhere'`, 'm'));
  });

  it('config-validate on a missing file says so without a stack trace', async () => {
    const result = await runExecutable('nodepool', ['-c', '/nonexistent/nodepool.yaml', 'config-validate']);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toContain('/nonexistent/nodepool.yaml');
    expect(result.stdout + result.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('a database command with an invalid configuration lists the problems and exits 1', async () => {
    const dir = tempDir();
    const configFile = writeConfigFile(dir, { labels: [], providers: 'none', targets: [] });
    const result = await runExecutable('nodepool', ['-c', configFile, 'list']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('invalid configuration');
    expect(result.stderr).toContain(`${configFile}:`);
  });

  it('a database command with no database configured says where to set one', async () => {
    const dir = tempDir();
    const configFile = writeConfigFile(dir, minimalConfig());
    const result = await runExecutable('nodepool', ['-c', configFile, 'list']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no database configured');
  });

  it('the secure file database URI wins over nodepool.yaml, and the environment over both', async () => {
    const dir = tempDir();
    const configFile = writeConfigFile(dir, minimalConfig({ dburi: `sqlite:${join(dir, 'from-yaml.db')}` }));
    const secure = join(dir, 'secure.conf');
    writeFileSync(secure, `[database]\ndburi=sqlite://${join(dir, 'from-secure.db')}\n`);
    await runExecutable('nodepool', ['-c', configFile, '-s', secure, 'job-create', 'in-secure']);
    await runExecutable('nodepool', ['-c', configFile, 'job-create', 'in-yaml']);
    await runExecutable('nodepool', ['-c', configFile, '-s', secure, 'job-create', 'in-env'], {
      env: { NODEPOOL_DBURI: `sqlite:${join(dir, 'from-env.db')}` },
    });
    const names = async (file: string) => {
      const db = await openDatabase(`sqlite:${join(dir, file)}`);
      try {
        return (await db.jobs.list()).map((j) => j.name);
      } finally {
        await db.close();
      }
    };
    expect(await names('from-secure.db')).toEqual(['in-secure']);
    expect(await names('from-yaml.db')).toEqual(['in-yaml']);
    expect(await names('from-env.db')).toEqual(['in-env']);
  });

  it('a secure file named with -s must exist', async () => {
    const dir = tempDir();
    const configFile = writeConfigFile(dir, minimalConfig({ dburi: `sqlite:${join(dir, 'np.db')}` }));
    const result = await runExecutable('nodepool', ['-c', configFile, '-s', join(dir, 'missing.conf'), 'list']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('missing.conf');
  });

  it('an unreachable database fails with one line and no password', async () => {
    const dir = tempDir();
    const configFile = writeConfigFile(dir, minimalConfig({ dburi: 'mysql://nodepool:s3cret@127.0.0.1:1/nodepool' }));
    const result = await runExecutable('nodepool', ['-c', configFile, 'list']);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('s3cret');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('nodepoold refuses an invalid configuration with its problems', async () => {
    const dir = tempDir();
    const configFile = writeConfigFile(dir, minimalConfig({ labels: [{ name: 'x', image: 'debian', providers: [{ name: 'nope' }] }] }));
    const result = await runExecutable('nodepoold', ['-d', '-c', configFile]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('nope');
  });
});
