import { ImageBuilder, tuningFromEnv } from '../builder/index.js';
import { runDaemon } from './daemon-lifecycle.js';
import { builderProgram, type BuilderOptions } from './daemon-programs.js';
import { processOutput } from './output.js';
import { runProgram } from './run-program.js';

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
    work: ({ config, db, logging }) => {
      const builder = new ImageBuilder({
        config,
        configFile: options.c,
        db,
        logging,
        buildWorkers: options.buildWorkers,
        uploadWorkers: options.uploadWorkers,
        tuning,
      });
      return { start: () => builder.start(), stop: () => builder.stop(), actors: () => [builder.builderActor] };
    },
  });
});

process.exitCode = await runProgram(program, argv, processOutput);
