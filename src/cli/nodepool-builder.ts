import { ImageBuilder, tuningFromEnv } from '../builder/index.js';
import { builderProgram, prepareDaemon, type BuilderOptions } from './daemon-programs.js';
import { detach, nextSignal, within } from './daemonize.js';
import { processOutput } from './output.js';
import { claimPidFile } from './pid-file.js';
import { runProgram } from './run-program.js';
import { onSigusr2 } from './usr2.js';

/** How long a graceful stop may take; a build in flight is redone at the next start either way. */
const STOP_TIMEOUT_MS = 30_000;

const argv = process.argv.slice(2);

const program = builderProgram().action(async (options: BuilderOptions) => {
  const tuning = tuningFromEnv();
  if (!options.d) {
    // Validate in the foreground, so a bad configuration is refused where the operator sees it.
    const { db } = await prepareDaemon('nodepool-builder', options);
    await db.close();
    processOutput.out(`nodepool-builder: running in the background with pid ${detach(argv)}`);
    return;
  }
  const releasePidFile = options.p ? claimPidFile(options.p) : () => {};
  let prepared: Awaited<ReturnType<typeof prepareDaemon>>;
  try {
    prepared = await prepareDaemon('nodepool-builder', options);
  } catch (err) {
    releasePidFile();
    throw err;
  }
  const { config, db, logging } = prepared;
  const log = logging.get('nodepool.builder');
  const builder = new ImageBuilder({
    config,
    configFile: options.c,
    db,
    logging,
    buildWorkers: options.buildWorkers,
    uploadWorkers: options.uploadWorkers,
    tuning,
  });
  const offUsr2 = onSigusr2(log, () => [builder.builderActor]);
  try {
    await builder.start();
    const signal = await nextSignal(['SIGINT', 'SIGTERM']);
    log.info({ signal }, 'stopping');
    if (!(await within(builder.stop(), STOP_TIMEOUT_MS))) log.warn('work did not stop in time; it is redone at the next start');
  } finally {
    offUsr2();
    await db.close();
    releasePidFile();
  }
});

process.exitCode = await runProgram(program, argv, processOutput);
