import { once } from 'node:events';
import { runSimulatorProgram } from './cli.js';

// The standalone program: bin/openstack-simulator.js loads this from dist/.
const stopped = Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
process.exitCode = await runSimulatorProgram(
  process.argv.slice(2),
  { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) },
  stopped,
);
