// db-outage: the local mariadbd stopped for 60 s (40 s with --short) while
// nodepoold on MariaDB is in the middle of launches and deletes, and while
// servers vanish from the cloud underneath it. Once MariaDB answers again,
// every label must be back at min-ready within 15 s, with no leaked, lost or
// duplicated node, and the daemon must never have exited; its /readyz says
// 503 during the outage and 200 after.
//
// It stops the shared MariaDB server, so nothing else may use it meanwhile:
// CI runs the chaos suite after the tests. MariaDB only, and only a local
// mariadbd this user may stop and start (start-stop-daemon, as .ci/run does).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { stringify as stringifyYaml } from 'yaml';
import { DEFAULT_FAKE_CLOUD } from '../../dist/src/config/defaults.js';
import { FakeCloud } from '../../dist/src/drivers/fake/index.js';
import { withScratchDatabase } from '../scratch-database.mjs';
import { hasStackTrace, nodepool, nodepoolJson, sleep, startDaemon, VALID, waitUntil } from './common.mjs';
import { poolAudit } from './pool-audit.mjs';

const run = promisify(execFile);
const MARIADBD = '/usr/sbin/mariadbd';
/** The bound: every label back at min-ready this long after the database answers again. */
const RECOVERY_BOUND_S = 15;
const MIN_READY = { small: 6, large: 4 };

/** True when the MariaDB server answers a ping over TCP. */
async function mariadbAnswers() {
  return run('mariadb-admin', ['--protocol=tcp', '-h', '127.0.0.1', '-P', '3306', '-u', 'root', 'ping']).then(() => true, () => false);
}

/** Stops the local mariadbd and waits until it is gone (SIGTERM: a clean shutdown, as an operator's restart is). */
async function stopMariadb() {
  await run('start-stop-daemon', ['--stop', '--oknodo', '--retry', 'TERM/60/KILL/5', '--exec', MARIADBD]);
}

async function startMariadb() {
  await run('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', MARIADBD]);
  if (!(await waitUntil(mariadbAnswers, 60_000))) throw new Error('MariaDB did not answer within 60 s of its start');
}

/** Two labels on one simulated provider, with launches slow enough to be in flight when MariaDB stops. */
function outageConfig(dir, dburi) {
  return {
    ...VALID,
    dburi,
    labels: Object.entries(MIN_READY).map(([name, min]) => ({ ...VALID.labels[0], name, 'min-ready': min })),
    // The status web server on a free port: /readyz must say 503 while the database is away.
    webapp: { listen: '127.0.0.1', port: 0 },
    providers: [{
      ...VALID.providers[0],
      'max-servers': 30,
      rate: 0.01,
      fake: { 'state-file': join(dir, 'fake-a.json'), latency: { create: 0.3, active: 3, delete: 1 } },
    }],
  };
}

export async function dbOutage(short) {
  // Longer than the idle list interval (30 s) even when short: a vanished
  // server is noticed by the cloud's list, not the database, so the figure
  // measures the database's return, not the list schedule.
  const outageS = short ? 40 : 60;
  return withScratchDatabase('mariadb', 'chaos_outage', async (dir, dburi) => {
    const configFile = join(dir, 'nodepool.yaml');
    const stateFile = join(dir, 'fake-a.json');
    writeFileSync(configFile, stringifyYaml(outageConfig(dir, dburi)));
    const failures = { 'daemon exited': 0, 'slow recovery': 0, leaked: 0, lost: 0, duplicated: 0, stuck: 0, 'stack trace': 0, 'readyz not 503 during the outage': 0, 'readyz not 200 after': 0 };
    const readyz = {};
    const daemon = startDaemon('nodepoold', ['-c', configFile, '--no-builder'], { cwd: dir });
    const total = Object.values(MIN_READY).reduce((a, b) => a + b, 0);
    let deleted = 0;
    let vanished = 0;
    let recoveryS;
    let mariadbStopped = false;
    try {
      const ready = () => nodepoolJson(configFile, 'list').then((nodes) => (nodes ?? []).filter((n) => n.state === 'ready'));
      if (!(await waitUntil(async () => (await ready()).length >= total, 60_000))) throw new Error(`no ${total} ready nodes within 60 s:\n${daemon.output().slice(-2000)}`);
      const statusUrl = /status web server listening on (http:\/\/[^"\s]+)/.exec(daemon.output())?.[1];
      const readyzStatus = () => (statusUrl ? fetch(new URL('/readyz', statusUrl)).then((r) => r.status, () => 0) : Promise.resolve(0));
      readyz.before = await readyzStatus();

      // Deletes in flight, and their replacements launching, when the database goes.
      for (const node of (await ready()).slice(0, 4)) {
        if ((await nodepool(['-c', configFile, 'delete', String(node.id)])).code === 0) deleted += 1;
      }
      await sleep(1_000);
      // Servers of nodes that are ready, not those being deleted anyway.
      const readyServers = (await ready()).map((n) => n.server_id).filter(Boolean);
      await stopMariadb();
      mariadbStopped = true;
      const stoppedAt = performance.now();

      // Meanwhile servers vanish from the cloud, as when a hypervisor dies: the daemon must notice them after the outage.
      const cloud = new FakeCloud({ ...DEFAULT_FAKE_CLOUD, stateFile }, { name: 'fake-a' });
      await sleep(3_000);
      for (const id of readyServers.slice(0, 3)) {
        await cloud.deleteServer(id);
        vanished += 1;
      }
      await cloud.close();
      await sleep(Math.max(0, outageS * 1000 - (performance.now() - stoppedAt)));
      if (!daemon.running()) failures['daemon exited'] += 1;
      // An operator's probe during the outage: not ready, with the reason.
      readyz.during = await readyzStatus();
      if (readyz.during !== 503) failures['readyz not 503 during the outage'] += 1;

      await startMariadb();
      mariadbStopped = false;
      const back = performance.now();
      let audit;
      const recovered = await waitUntil(async () => {
        audit = await poolAudit(configFile, stateFile, MIN_READY);
        return audit && audit.short === 0 && audit.unsettled === 0 && audit.leaked === 0 && audit.lost === 0 && audit.duplicated === 0;
      }, 60_000, 250);
      recoveryS = +((performance.now() - back) / 1000).toFixed(1);
      if (!recovered || recoveryS > RECOVERY_BOUND_S) failures['slow recovery'] += 1;
      readyz.after = (await waitUntil(async () => ((await readyzStatus()) === 200 ? 200 : undefined), 10_000)) ?? (await readyzStatus());
      if (readyz.after !== 200) failures['readyz not 200 after'] += 1;
      if (audit) {
        failures.leaked += audit.leaked;
        failures.lost += audit.lost;
        failures.duplicated += audit.duplicated;
        failures.stuck += audit.unsettled;
      }
      if (!daemon.running()) failures['daemon exited'] += 1;
    } finally {
      if (mariadbStopped) await startMariadb();
      await daemon.stop('SIGTERM');
    }
    if (hasStackTrace(daemon.output())) failures['stack trace'] += 1;
    // What an operator alerting on the log sees of the outage: its lines at warn and error.
    const outageLines = daemon.output().split('\n').filter((l) => /"level":"(warn|error)"/.test(l)).length;
    const failed = Object.values(failures).reduce((a, b) => a + b, 0);
    if (failed > 0) {
      const kept = join(tmpdir(), `nodepool-chaos-db-outage-${daemon.pid}.log`);
      writeFileSync(kept, daemon.output());
      console.error(`db-outage: ${JSON.stringify(failures)}; the daemon's whole log is in ${kept}\n${daemon.output().slice(-3000)}`);
    }
    return { scenario: 'db-outage', backend: 'mariadb', outageS, deleted, vanished, recoveryS, readyz, warnAndErrorLines: outageLines, failures, ok: failed === 0 };
  });
}
