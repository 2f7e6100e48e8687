import { ImageBuilder, SharedDrivers, tuningFromEnv } from '../builder/index.js';
import { systemClock } from '../runtime/clock.js';
import { NodePool } from '../runtime/node-pool.js';
import { nodepooldProgram, prepareDaemon, type NodepooldOptions } from './daemon-programs.js';
import { detach, nextSignal, within } from './daemonize.js';
import { processOutput } from './output.js';
import { claimPidFile } from './pid-file.js';
import { runProgram } from './run-program.js';
import { onSigusr2 } from './usr2.js';

/** How long a graceful stop may take before the process exits anyway (work in flight is persisted). */
const STOP_TIMEOUT_MS = 10_000;

const argv = process.argv.slice(2);

const program = nodepooldProgram().action(async (options: NodepooldOptions) => {
  const tuning = options.builder ? tuningFromEnv() : {};
  if (!options.d) {
    // Validate in the foreground, so a bad configuration is refused where the operator sees it.
    const { db } = await prepareDaemon('nodepoold', options);
    await db.close();
    processOutput.out(`nodepoold: running in the background with pid ${detach(argv)}`);
    return;
  }
  const releasePidFile = options.p ? claimPidFile(options.p) : () => {};
  let prepared: Awaited<ReturnType<typeof prepareDaemon>>;
  try {
    prepared = await prepareDaemon('nodepoold', options);
  } catch (err) {
    releasePidFile();
    throw err;
  }
  const { config, db, logging } = prepared;
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
  const offUsr2 = onSigusr2(log, () => [pool.actor, builder?.builderActor]);
  try {
    await pool.start();
    await builder?.start();
    const signal = await nextSignal(['SIGINT', 'SIGTERM']);
    log.info({ signal }, 'stopping');
    const stopped = Promise.all([pool.stop(), builder?.stop()]);
    if (!(await within(stopped, STOP_TIMEOUT_MS))) log.warn('work did not stop in time; it resumes at the next start');
  } finally {
    offUsr2();
    await db.close();
    releasePidFile();
  }
});

process.exitCode = await runProgram(program, argv, processOutput);
