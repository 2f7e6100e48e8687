import './heap-growth.js';
import { ActorHost } from '../actors/host.js';
import { ImageBuilder, tuningFromEnv } from '../builder/index.js';
import { runDaemon } from './daemon-lifecycle.js';
import { builderProgram, type BuilderOptions } from './daemon-programs.js';
import { processOutput } from './output.js';
import { runProgram } from './run-program.js';
import { serveBuilderStatus } from './status-web.js';

const argv = process.argv.slice(2);

const program = builderProgram().action(async (options: BuilderOptions) => {
  const tuning = tuningFromEnv();
  await runDaemon({
    name: 'nodepool-builder',
    logger: 'nodepool.builder',
    options,
    argv,
    // A cancelled build is redone at the next start; its tool gets time to stop and clean up.
    stopTimeoutMs: 30_000,
    host: ({ config, db, logging }, metrics) => {
      const host = new ActorHost({ configFile: options.c, config, db, logging });
      return host.add(new ImageBuilder(host, { buildWorkers: options.buildWorkers, uploadWorkers: options.uploadWorkers, tuning, metrics }));
    },
    // Its status pages, unless --no-webapp, so that a builder on another host can be watched.
    ...(options.webapp && { serve: serveBuilderStatus(options.webappPort) }),
  });
});

process.exitCode = await runProgram(program, argv, processOutput);
