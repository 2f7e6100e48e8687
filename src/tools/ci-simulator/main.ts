import { once } from 'node:events';
import { runCiSimulatorProgram } from './program.js';

// The standalone program: `bin/ci-simulator.js -c nodepool.yaml`.
const stopped = Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
process.exitCode = await runCiSimulatorProgram(
  process.argv.slice(2),
  { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) },
  stopped,
);
