import { tmpdir } from 'node:os';
import { dumpActors } from '../runtime/actor-dump.js';
import { NodePool } from '../runtime/node-pool.js';
import { SignalProfiler } from '../runtime/profiler.js';
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
  // SIGUSR2: a dump of every live actor, and CPU profiling on (first) and written out (second).
  const profiler = new SignalProfiler(tmpdir());
  const onUsr2 = () => {
    const actors = pool.actor ? dumpActors(pool.actor) : [];
    log.info({ actors: actors.length }, `live actors:\n${actors.map((a) => `${'  '.repeat(a.depth)}${a.id}: ${a.state || a.status}`).join('\n')}`);
    profiler.toggle().then(
      (file) => log.info(file ? `CPU profile written to ${file}; profiling stopped` : 'CPU profiling started; send SIGUSR2 again to write it'),
      (err: unknown) => log.error({ err }, 'profiling failed'),
    );
  };
  process.on('SIGUSR2', onUsr2);
  try {
    await pool.start();
    const signal = await nextSignal(['SIGINT', 'SIGTERM']);
    log.info({ signal }, 'stopping');
    if (!(await within(pool.stop(), STOP_TIMEOUT_MS))) log.warn('work did not stop in time; it resumes at the next start');
  } finally {
    process.off('SIGUSR2', onUsr2);
    await db.close();
    releasePidFile();
  }
});

process.exitCode = await runProgram(program, argv, processOutput);
