import { ImageBuilder, SharedDrivers, tuningFromEnv } from '../builder/index.js';
import { systemClock } from '../runtime/clock.js';
import { NodePool } from '../runtime/node-pool.js';
import { runDaemon } from './daemon-lifecycle.js';
import { nodepooldProgram, type NodepooldOptions } from './daemon-programs.js';
import { processOutput } from './output.js';
import { runProgram } from './run-program.js';

const argv = process.argv.slice(2);

const program = nodepooldProgram().action(async (options: NodepooldOptions) => {
  const tuning = options.builder ? tuningFromEnv() : {};
  await runDaemon({
    name: 'nodepoold',
    logger: 'nodepool.NodePool',
    options,
    argv,
    // Work in flight is persisted and resumes at the next start.
    stopTimeoutMs: 10_000,
    work: ({ config, db, logging }) => {
      const log = logging.get('nodepool.NodePool');
      const pool = new NodePool({
        configFile: options.c,
        config,
        db,
        logging,
        launches: options.launches,
        deletes: options.deletes,
      });
      // Unless --no-builder, one process is a complete system: it builds and uploads images too.
      if (options.builder && !config.imagesDir) log.warn('images-dir is not set: no builder runs inside nodepoold (nodes boot from uploads made elsewhere)');
      const builder = options.builder && config.imagesDir
        ? new ImageBuilder({
            config,
            configFile: options.c,
            db,
            logging,
            buildWorkers: options.buildWorkers,
            uploadWorkers: options.uploadWorkers,
            clouds: new SharedDrivers((name) => pool.providerRuntimes.get(name), systemClock),
            program: 'nodepoold',
            tuning,
          })
        : undefined;
      return {
        start: async () => {
          await pool.start();
          await builder?.start();
        },
        stop: async () => {
          await Promise.all([pool.stop(), builder?.stop()]);
        },
        actors: () => [pool.actor, builder?.builderActor],
      };
    },
  });
});

process.exitCode = await runProgram(program, argv, processOutput);
