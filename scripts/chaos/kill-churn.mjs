// kill-churn: nodepoold killed with SIGKILL over and over, at 0.3 to 3 s
// intervals, while nodes are deleted from the command line as fast as a busy
// CI would use them, and two held nodes sit in the pool. After the last kill
// one daemon runs undisturbed until the pool settles. Fails on a leaked
// server (alive in the cloud, no row), a lost node (a row whose server is
// gone, a held node no longer held), a duplicated node (two rows for one
// server, or more ready nodes than min-ready), a node stuck outside ready and
// hold, a stack trace, or no settling within the bound.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { seededRandom } from '../../dist/src/simulated-cloud/index.js';
import { withScratchDatabase } from '../scratch-database.mjs';
import { hasStackTrace, nodepool, nodepoolJson, sleep, startDaemon, VALID, waitUntil } from './common.mjs';
import { poolAudit } from './pool-audit.mjs';

/** A pool of `minReady` nodes of one label on one simulated provider with room to spare, in `dir`. */
export function churnConfig(dir, dburi, minReady) {
  return {
    ...VALID,
    dburi,
    labels: [{ ...VALID.labels[0], 'min-ready': minReady }],
    providers: [{
      ...VALID.providers[0],
      'max-servers': minReady * 2 + 4,
      rate: 0.01,
      fake: { 'state-file': join(dir, 'fake-a.json'), latency: { create: 0.2, active: 0.6, delete: 0.3 } },
    }],
  };
}

export async function killChurn(backend, short) {
  const minReady = short ? 4 : 8;
  const kills = short ? 6 : 50;
  return withScratchDatabase(backend, 'chaos_churn', async (dir, dburi) => {
    const configFile = join(dir, 'nodepool.yaml');
    const stateFile = join(dir, 'fake-a.json');
    writeFileSync(configFile, stringifyYaml(churnConfig(dir, dburi, minReady)));
    const random = seededRandom(backend === 'sqlite' ? 11 : 12);
    const start = () => startDaemon('nodepoold', ['-c', configFile, '--no-builder', '--no-webapp'], { cwd: dir });
    const failures = { leaked: 0, lost: 0, duplicated: 0, stuck: 0, 'stack trace': 0, 'not settled': 0, 'command failed': 0 };
    const outputs = [];
    let daemon = start();
    let deletes = 0;
    let settleS;
    const held = [];
    try {
      const first = await waitUntil(async () => ((await nodepoolJson(configFile, 'list')) ?? []).filter((n) => n.state === 'ready').length >= minReady, 60_000);
      if (!first) throw new Error(`no ${minReady} ready nodes within 60 s:\n${daemon.output().slice(-2000)}`);
      for (const node of (await nodepoolJson(configFile, 'list')).filter((n) => n.state === 'ready').slice(0, 2)) {
        const run = await nodepool(['-c', configFile, 'hold', String(node.id), '--reason', 'kept through the chaos']);
        if (run.code === 0) held.push(node.id);
        else failures['command failed'] += 1;
      }

      // The churn: a CI taking ready nodes and giving them back to be deleted, whatever the daemon is doing.
      let churning = true;
      const churn = (async () => {
        while (churning) {
          const nodes = (await nodepoolJson(configFile, 'list')) ?? [];
          const victim = nodes.filter((n) => n.state === 'ready')[Math.floor(random() * 3)];
          if (victim) {
            const run = await nodepool(['-c', configFile, 'delete', String(victim.id)]);
            // A node that went meanwhile (deleted by an earlier round) is a refusal, not a failure.
            if (run.code === 0) deletes += 1;
            else if (!/not found|no node|is being deleted|already/i.test(run.stderr)) {
              failures['command failed'] += 1;
              console.error(`kill-churn [${backend}]: delete ${victim.id}: exit ${run.code}: ${run.stderr.slice(0, 300)}`);
            }
          }
          await sleep(100 + random() * 300);
        }
      })();
      for (let i = 0; i < kills; i += 1) {
        await sleep(300 + random() * 2700);
        await daemon.kill();
        outputs.push(daemon.output());
        daemon = start();
      }
      churning = false;
      await churn;

      // One daemon, left alone: the pool must come to rest as it should be.
      const quiet = Date.now();
      let audit;
      const settled = await waitUntil(async () => {
        audit = await poolAudit(configFile, stateFile, { small: minReady }, held);
        return audit && audit.unsettled === 0 && audit.leaked === 0 && audit.short === 0 && audit.lost === 0 && audit.duplicated === 0;
      }, 60_000, 500);
      settleS = +((Date.now() - quiet) / 1000).toFixed(1);
      if (!settled) failures['not settled'] += 1;
      if (audit) {
        failures.leaked += audit.leaked;
        failures.lost += audit.lost;
        failures.duplicated += audit.duplicated;
        failures.stuck += audit.unsettled;
      }
    } finally {
      await daemon.stop('SIGTERM');
      outputs.push(daemon.output());
    }
    failures['stack trace'] = outputs.filter(hasStackTrace).length;
    const failed = Object.values(failures).reduce((a, b) => a + b, 0);
    if (failed > 0) console.error(`kill-churn [${backend}]: ${JSON.stringify(failures)}\n${outputs.at(-1).slice(-3000)}`);
    return { scenario: 'kill-churn', backend, minReady, kills, deletes, held: held.length, settleS, failures, ok: failed === 0 };
  });
}
