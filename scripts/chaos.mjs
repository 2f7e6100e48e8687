// The chaos suite (docs/reliability.md, "npm run chaos"): what an
// adversarial operator would try, each scenario printing its figures as one
// JSON line and failing (exit 1) on any loss, leak, hang, stack trace or
// success where a refusal was due. Not part of `npm test`; `--short` runs a
// small version of each scenario, as CI does after the tests.
//
//   npm run chaos -- [--short] [--scenarios a,b] [--backends sqlite,mariadb]
//
// The scenarios are in scripts/chaos/, one file each.
import { parseArgs } from 'node:util';
import { builderKill } from './chaos/builder-kill.mjs';
import { cliInput } from './chaos/cli-input.mjs';
import { clusterKill } from './chaos/cluster-kill.mjs';
import { configFuzz } from './chaos/config-fuzz.mjs';
import { dbOutage } from './chaos/db-outage.mjs';
import { killChurn } from './chaos/kill-churn.mjs';
import { reloadAbuse } from './chaos/reload-abuse.mjs';

/** Each scenario: run once, or once per backend (of those it has). */
const SCENARIOS = {
  'config-fuzz': { run: ({ short }) => configFuzz(short) },
  'cli-input': { perBackend: true, run: ({ backend, short }) => cliInput(backend, short) },
  'reload-abuse': { run: ({ short }) => reloadAbuse(short) },
  'builder-kill': { perBackend: true, run: ({ backend, short }) => builderKill(backend, short) },
  'kill-churn': { perBackend: true, run: ({ backend, short }) => killChurn(backend, short) },
  // An embedded SQLite file has no outage; this one stops the local mariadbd.
  'db-outage': { perBackend: true, backends: ['mariadb'], run: ({ short }) => dbOutage(short) },
  // Several nodepoold share a database (docs/scaling.md): on MariaDB, and on a 3-node Galera cluster of its own (not in --short).
  'cluster-kill': { perBackend: true, backends: ['mariadb'], run: ({ backend, short }) => clusterKill(backend, short) },
  'cluster-kill-galera': { long: true, run: ({ short }) => clusterKill('mariadb', short, { galera: true }) },
};

/** The options, read by node's own parser (unknown options are an error). */
function options(argv) {
  const names = Object.keys(SCENARIOS);
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        short: { type: 'boolean', default: false },
        scenarios: { type: 'string', default: names.join(',') },
        backends: { type: 'string', default: 'sqlite,mariadb' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    console.error(`chaos: ${err.message}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(`npm run chaos -- [--short] [--scenarios ${names.join(',')}] [--backends sqlite,mariadb]`);
    process.exit(0);
  }
  const scenarios = values.scenarios.split(',');
  const unknown = scenarios.filter((s) => !names.includes(s));
  if (unknown.length > 0) {
    console.error(`chaos: no scenario named ${unknown.join(', ')} (there are ${names.join(', ')})`);
    process.exit(2);
  }
  return { short: values.short, scenarios, backends: values.backends.split(',') };
}

const chosen = options(process.argv.slice(2));
const results = [];
for (const name of chosen.scenarios) {
  const scenario = SCENARIOS[name];
  if (scenario.long && chosen.short) continue;
  const backends = scenario.perBackend ? chosen.backends.filter((b) => !scenario.backends || scenario.backends.includes(b)) : [undefined];
  for (const backend of backends) {
    const result = await scenario.run({ backend, short: chosen.short });
    console.log(JSON.stringify(result));
    results.push(result);
  }
}
const failed = results.filter((r) => !r.ok);
console.log(failed.length === 0 ? `chaos: ${results.length} scenario run(s), no loss, leak, hang or stack trace` : `chaos: ${failed.length} of ${results.length} scenario run(s) failed`);
process.exitCode = failed.length === 0 ? 0 : 1;
