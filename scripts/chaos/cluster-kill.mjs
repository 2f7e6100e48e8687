// cluster-kill: three nodepoold share one database and six simulated
// providers (state files) with min-ready 60 in all (docs/scaling.md). One
// daemon at a time is SIGKILLed at a random moment and started again; then
// every daemon is restarted in turn (SIGTERM, start), as a rolling upgrade
// does. Every second the database is read: every provider must have exactly
// one owner, a daemon alive or killed less than a lease ago. Fails on a
// provider without an owner or owned by a daemon dead for longer, two
// daemons driving one provider at once (from their logs), min-ready not
// restored within 45 s of a kill, fewer than 90% of min-ready ready at any
// second of the rolling restart, or, once the pool is at rest, a leaked,
// lost or duplicated node. With --galera the database is a 3-node Galera
// cluster on loopback, and one of its nodes is killed and restarted in the
// middle. Prints the takeover times and the database's queries per second at
// idle, per daemon. Run as root, each daemon slot has a host name of its own
// (a UTS namespace), so that a survivor takes a dead daemon's providers when
// its lease lapses, as between hosts, and its restart on the same host takes
// them at once.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify as stringifyYaml } from 'yaml';
import { openDatabase, createMysqlDatabase, withDatabaseName } from '../../dist/src/db/index.js';
import { seededRandom } from '../../dist/src/simulated-cloud/index.js';
import { rendezvousOwner } from '../../dist/src/core/rendezvous.js';
import { withScratchDatabase } from '../scratch-database.mjs';
import { hasStackTrace, sleep, startDaemon, VALID, waitUntil } from './common.mjs';
import { liveServers } from './pool-audit.mjs';

const PROVIDERS = ['fake-1', 'fake-2', 'fake-3', 'fake-4', 'fake-5', 'fake-6'];
const LABELS = { small: 30, large: 30 };
const TTL_S = 20;
const RESTORE_BOUND_S = 45;

function clusterConfig(dir, dburi) {
  return {
    ...VALID,
    dburi,
    'provider-lease-seconds': TTL_S,
    'provider-lease-renew-seconds': 5,
    labels: Object.entries(LABELS).map(([name, min]) => ({ name, image: 'debian', 'min-ready': min, providers: PROVIDERS.map((p) => ({ name: p })) })),
    providers: PROVIDERS.map((name) => ({
      ...VALID.providers[0],
      name,
      'max-servers': 25,
      rate: 0.01,
      fake: { 'state-file': join(dir, `${name}.json`), latency: { create: 0.2, active: 0.6, delete: 0.3 } },
    })),
  };
}

const pct = (values, p) => {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

export async function clusterKill(backend, short, { galera = false } = {}) {
  const kills = short ? 2 : 10;
  const hosts = canSeparateHosts();
  const run = async (dir, dburi, cluster) => {
    const configFile = join(dir, 'nodepool.yaml');
    writeFileSync(configFile, stringifyYaml(clusterConfig(dir, dburi)));
    const db = await openDatabase(dburi);
    const random = seededRandom(galera ? 31 : 30);
    const failures = { 'no owner': 0, 'dead owner': 0, 'two drivers': 0, 'not restored': 0, 'rolling dip': 0, leaked: 0, lost: 0, duplicated: 0, 'not settled': 0, 'stack trace': 0 };
    const minReady = Object.values(LABELS).reduce((a, b) => a + b, 0);
    const outputs = [];
    /** Each daemon slot's process now, and when each process was killed. */
    const slots = [];
    const killedAt = new Map();
    // Each slot a host of its own where the machine allows it: a survivor cannot see a dead daemon's pid, and waits for its lease to lapse; its restart on the same host can.
    const start = (slot) => {
      const daemon = startDaemon('nodepoold', ['-c', configFile, '--no-builder', '--no-webapp'], { cwd: dir, ...(hosts && { host: `np-host-${slot + 1}` }) });
      slots[slot] = daemon;
      return daemon;
    };
    const name = (daemon) => new RegExp(`^nodepoold:.+:${daemon.pid}$`);
    /** Each provider where the hashing puts it among the three running daemons (one may get none: six providers over three). */
    const sharedOut = async () => {
      const leases = await db.leases.listWithPrefix('provider:');
      const live = (await db.daemons.list()).map((d) => d.name).filter((n) => slots.some((d) => d.running() && name(d).test(n)));
      return live.length === 3 && leases.length === PROVIDERS.length && leases.every((l) => l.owner === rendezvousOwner(l.name, live));
    };
    const readyCount = async () => (await db.nodes.tally()).filter((t) => t.state === 'ready').reduce((n, t) => n + t.count, 0);
    const ownersCheck = async () => {
      const now = Date.now();
      const leases = await db.leases.listWithPrefix('provider:');
      for (const provider of PROVIDERS) {
        const lease = leases.find((l) => l.name === `provider:${provider}`);
        if (!lease) {
          failures['no owner'] += 1;
          console.error(`cluster-kill: ${provider} has no lease row`);
          continue;
        }
        const alive = slots.some((d) => d.running() && name(d).test(lease.owner));
        const pid = Number(lease.owner.split(':').at(-1));
        const deadSince = killedAt.get(pid);
        // A killed daemon's lease stands until it lapses or is taken over: a lease's time, and the beat that notices.
        if (!alive && (deadSince === undefined || now - deadSince > (TTL_S + 6) * 1000)) {
          failures['dead owner'] += 1;
          console.error(`cluster-kill: ${provider} is owned by ${lease.owner}, which is not running`);
        }
      }
    };
    let sampling = false;
    let samples = 0;
    let lowestRolling;
    let lowestKilling;
    /** Which phase the sampler watches the ready count for. */
    let phase = 'fill';
    const sample = async () => {
      while (sampling) {
        try {
          await ownersCheck();
          if (phase !== 'fill') {
            const ready = await readyCount();
            if (phase === 'killing') lowestKilling = Math.min(lowestKilling ?? ready, ready);
            else lowestRolling = Math.min(lowestRolling ?? ready, ready);
          }
          samples += 1;
        } catch (err) {
          // The database node the sampler uses may be the one killed (Galera): the next second asks again.
          if (!galera) throw err;
        }
        await sleep(1000);
      }
    };
    let sampler;
    const takeovers = [];
    const restores = [];
    let qps;
    try {
      // One daemon fills the pool; what it costs the database at idle, then what two more cost.
      start(0);
      const filled = await waitUntil(async () => (await readyCount()) >= minReady, 120_000, 500);
      if (!filled) throw new Error(`min-ready ${minReady} not met within 120 s:\n${slots[0].output().slice(-2000)}`);
      const idleMs = short ? 10_000 : 30_000;
      const alone = galera ? undefined : await idleQueriesPerSecond(db, idleMs);
      for (let slot = 1; slot < 3; slot += 1) start(slot);
      const spread = await waitUntil(sharedOut, 60_000, 250);
      if (!spread) throw new Error(`the providers were not spread over the three daemons within 60 s:\n${slots[1].output().slice(-2000)}`);
      await sleep(5000);
      if (alone !== undefined) {
        const three = await idleQueriesPerSecond(db, idleMs);
        qps = { oneDaemon: alone, threeDaemons: three, extraPerDaemon: +((three - alone) / 2).toFixed(1) };
      }
      sampling = true;
      phase = 'killing';
      sampler = sample();

      for (let i = 0; i < kills; i += 1) {
        await sleep(3000 + random() * 12_000);
        if (galera && i === Math.floor(kills / 2)) {
          await cluster.killNode(2);
          await sleep(3000);
          await cluster.restartNode(2);
        }
        const slot = Math.floor(random() * 3);
        const victim = slots[slot];
        const itsProviders = (await db.leases.listWithPrefix('provider:')).filter((l) => name(victim).test(l.owner)).map((l) => l.name);
        await victim.kill();
        const killed = performance.now();
        killedAt.set(victim.pid, Date.now());
        outputs.push(victim.output());
        start(slot);
        // Taken over: none of its providers is still in the dead daemon's name.
        const taken = await waitUntil(async () => {
          const leases = await db.leases.listWithPrefix('provider:');
          return itsProviders.every((n) => !name(victim).test(leases.find((l) => l.name === n)?.owner ?? ''));
        }, 60_000, 200);
        if (taken) takeovers.push((performance.now() - killed) / 1000);
        // Met again once the dead daemon's providers have moved (the sampler says how low it went meanwhile).
        const restored = await waitUntil(async () => (await readyCount()) >= minReady, RESTORE_BOUND_S * 1000, 500);
        const restoreS = (performance.now() - killed) / 1000;
        restores.push(restoreS);
        if (!restored) {
          failures['not restored'] += 1;
          console.error(`cluster-kill: kill ${i + 1}: ${await readyCount()} of ${minReady} ready ${RESTORE_BOUND_S} s after the kill`);
        }
      }

      // A rolling restart: each daemon stopped (it hands its providers over) and started again, one after the other.
      await waitUntil(async () => (await readyCount()) >= minReady, 60_000, 500);
      phase = 'rolling';
      for (let slot = 0; slot < 3; slot += 1) {
        const old = slots[slot];
        killedAt.set(old.pid, Date.now());
        await old.stop('SIGTERM');
        outputs.push(old.output());
        start(slot);
        await waitUntil(sharedOut, 30_000, 250);
      }
      await sleep(5000);
      phase = 'rest';
      if (lowestRolling !== undefined && lowestRolling < 0.9 * minReady) failures['rolling dip'] += 1;

      // At rest: every server has its row, every ready node its server, no more nodes than min-ready.
      let audit;
      const settled = await waitUntil(async () => {
        audit = await auditPool(db, dir);
        return audit.unsettled === 0 && audit.leaked === 0 && audit.short === 0;
      }, 90_000, 1000);
      if (!settled) failures['not settled'] += 1;
      failures.leaked += audit.leaked;
      failures.lost += audit.lost;
      failures.duplicated += audit.duplicated;
      failures['two drivers'] += overlappingDrivers([...outputs, ...slots.map((d) => d.output())]);
    } finally {
      sampling = false;
      await sampler?.catch(() => {});
      for (const daemon of slots) {
        await daemon.stop('SIGTERM');
        outputs.push(daemon.output());
      }
      await db.close();
    }
    failures['stack trace'] = outputs.filter(hasStackTrace).length;
    const failed = Object.values(failures).reduce((a, b) => a + b, 0);
    if (failed > 0) console.error(`cluster-kill [${galera ? 'galera' : backend}]: ${JSON.stringify(failures)}\n${outputs.at(-1).slice(-3000)}`);
    const round = (v) => (v === undefined ? undefined : +v.toFixed(1));
    return {
      scenario: 'cluster-kill',
      backend: galera ? 'galera' : backend,
      daemons: 3,
      hosts: hosts ? 3 : 1,
      providers: PROVIDERS.length,
      minReady,
      kills,
      samples,
      takeoverS: { p50: round(pct(takeovers, 50)), max: round(Math.max(...takeovers)) },
      restoreS: { p50: round(pct(restores, 50)), max: round(Math.max(...restores)) },
      lowestReadyWhileKilling: lowestKilling,
      lowestReadyInRollingRestart: lowestRolling,
      ...(qps && { idleQueriesPerSecond: qps }),
      failures,
      ok: failed === 0,
    };
  };
  if (!galera) return withScratchDatabase(backend, 'chaos_cluster', (dir, dburi) => run(dir, dburi));
  const { startGaleraCluster } = await import('../../dist/src/tools/galera-cluster.js');
  const cluster = await startGaleraCluster({});
  try {
    await createMysqlDatabase(cluster.uri, 'nodepool_cluster');
    return await withScratchDatabase('sqlite', 'chaos_cluster_galera', (dir) => run(dir, withDatabaseName(cluster.uri, 'nodepool_cluster'), cluster));
  } finally {
    await cluster.stop();
  }
}

/** Whether daemons can be given host names of their own (`unshare --uts` needs root). */
function canSeparateHosts() {
  return process.getuid?.() === 0 && spawnSync('unshare', ['--uts', '--', 'true']).status === 0;
}

/** Statements per second the server ran over `ms` (the daemons at idle). */
async function idleQueriesPerSecond(db, ms) {
  const questions = async () => Number((await db.knex.raw("SHOW GLOBAL STATUS LIKE 'Questions'"))[0][0].Value);
  const before = await questions();
  await sleep(ms);
  return +(((await questions()) - before - 2) / (ms / 1000)).toFixed(1);
}

/** The pool against the six clouds' state files. */
async function auditPool(db, dir) {
  const nodes = await db.nodes.list();
  const servers = PROVIDERS.flatMap((p) => liveServers(join(dir, `${p}.json`)));
  const serverIds = new Set(servers.map((s) => s.id));
  const rowServers = nodes.map((n) => n.externalId).filter(Boolean);
  const ready = nodes.filter((n) => n.state === 'ready');
  return {
    leaked: servers.filter((s) => !rowServers.includes(s.id)).length,
    lost: ready.filter((n) => !serverIds.has(n.externalId)).length,
    duplicated: rowServers.length - new Set(rowServers).size + Object.entries(LABELS).reduce((extra, [label, min]) => extra + Math.max(0, ready.filter((n) => n.label === label).length - min), 0),
    unsettled: nodes.filter((n) => n.state !== 'ready' && n.state !== 'hold').length,
    short: Object.entries(LABELS).reduce((missing, [label, min]) => missing + Math.max(0, min - ready.filter((n) => n.label === label).length), 0),
  };
}

/**
 * Two daemons driving one provider at once, from their logs: each says when
 * it took a provider and when it stopped driving it; a killed daemon's last
 * lines are where it died. Log lines carry their time.
 */
function overlappingDrivers(outputs) {
  const spans = [];
  for (const [index, output] of outputs.entries()) {
    const open = new Map();
    let last = 0;
    for (const line of output.split('\n')) {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      last = entry.time ?? last;
      const took = /^took provider (\S+)/.exec(entry.msg ?? '');
      const left = /^provider (\S+) is no longer driven here/.exec(entry.msg ?? '');
      if (took) open.set(took[1], entry.time);
      if (left && open.has(left[1])) {
        spans.push({ daemon: index, provider: left[1], from: open.get(left[1]), to: entry.time });
        open.delete(left[1]);
      }
    }
    for (const [provider, from] of open) spans.push({ daemon: index, provider, from, to: last });
  }
  let overlaps = 0;
  for (const a of spans) {
    for (const b of spans) {
      if (a.daemon < b.daemon && a.provider === b.provider && a.from < b.to && b.from < a.to) {
        overlaps += 1;
        console.error(`cluster-kill: ${a.provider} driven by two daemons at once: ${JSON.stringify(a)} and ${JSON.stringify(b)}`);
      }
    }
  }
  return overlaps;
}
