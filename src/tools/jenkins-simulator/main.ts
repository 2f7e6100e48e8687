import { once } from 'node:events';
import { runJenkinsSimulatorProgram } from './cli.js';

// The standalone program: `node dist/src/tools/jenkins-simulator/main.js --port 8080 --job node-test:NODE`.
const stopped = Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
process.exitCode = await runJenkinsSimulatorProgram(
  process.argv.slice(2),
  { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) },
  stopped,
);
