import { NodePool } from '../runtime/node-pool.js';
import { nodepooldProgram, prepareDaemon, type NodepooldOptions } from './daemon-programs.js';
import { detach, nextSignal, within } from './daemonize.js';
import { processOutput } from './output.js';
import { claimPidFile } from './pid-file.js';
import { runProgram } from './run-program.js';

/** How long a graceful stop may take before the process exits anyway (work in flight is persisted). */
const STOP_TIMEOUT_MS = 10_000;

const argv = process.argv.slice(2);

const program = nodepooldProgram().action(async (options: NodepooldOptions) => {
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
  try {
    await pool.start();
    const signal = await nextSignal(['SIGINT', 'SIGTERM']);
    log.info({ signal }, 'stopping');
    if (!(await within(pool.stop(), STOP_TIMEOUT_MS))) log.warn('work did not stop in time; it resumes at the next start');
  } finally {
    await db.close();
    releasePidFile();
  }
});

process.exitCode = await runProgram(program, argv, processOutput);
