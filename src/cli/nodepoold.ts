import './heap-growth.js';
import { ActorHost } from '../actors/host.js';
import { ImageBuilder, tuningFromEnv } from '../builder/index.js';
import { systemClock } from '../core/clock.js';
import { Nodepoold } from '../nodepoold/nodepoold.js';
import { nodepooldTuningFromEnv } from '../nodepoold/tuning.js';
import { inProcessCiSimulator } from '../tools/ci-simulator/index.js';
import { CiSimulatorWorkload } from './ci-simulator-workload.js';
import { runDaemon } from './daemon-lifecycle.js';
import { nodepooldProgram, type NodepooldOptions } from './daemon-programs.js';
import { processOutput } from './output.js';
import { runProgram } from './run-program.js';
import { serveNodepooldStatus } from './status-web.js';

const argv = process.argv.slice(2);

const program = nodepooldProgram().action(async (options: NodepooldOptions) => {
  if (options.drain) {
    const { drainRunningDaemon } = await import('./drain.js');
    return drainRunningDaemon(options, processOutput);
  }
  // The status page shows its queued work per label.
  let nodepoold: Nodepoold | undefined;
  const tuning = options.builder ? tuningFromEnv() : {};
  const nodepooldTuning = nodepooldTuningFromEnv();
  await runDaemon({
    name: 'nodepoold',
    logger: 'nodepool.NodePool',
    options,
    argv,
    // Work in flight is persisted and resumes at the next start.
    stopTimeoutMs: 10_000,
    host: ({ config, db, logging, secure }, metrics) => {
      const host = new ActorHost({ configFile: options.c, config, db, logging });
      // The CI simulator of the ci-simulator section, unless --no-ci-simulator: its queue and job events go straight to nodepoold.
      const ci = options.ciSimulator
        ? inProcessCiSimulator({ config, currentConfig: () => host.config, db, clock: systemClock, log: logging.get('nodepool.CiSimulator') })
        : undefined;
      nodepoold = new Nodepoold(host, {
        launches: options.launches, deletes: options.deletes, ...nodepooldTuning,
        // Where `nodepool daemon-list` says this daemon's status pages are.
        ...(options.webapp && { ownership: { web: () => `http://${config.webapp.listen}:${config.webapp.port}/` } }),
        ...(secure && { secureJenkins: secure.jenkins }),
        ...(ci && { ci: ci.sources }),
        metrics,
      });
      host.add(nodepoold);
      // Unless --no-builder, one process is a complete system: it builds and uploads images too,
      // through the same gateways (one rate queue per provider for the whole process).
      if (options.builder && !config.imagesDir) {
        logging.get('nodepool.NodePool').warn('images-dir is not set: no builder runs inside nodepoold (nodes boot from uploads made elsewhere)');
      }
      if (options.builder && config.imagesDir) {
        host.add(new ImageBuilder(host, { buildWorkers: options.buildWorkers, uploadWorkers: options.uploadWorkers, program: 'nodepoold', tuning, metrics }));
      }
      // Added last, so it starts once nodepoold listens and stops first, while nodepoold still hears the runs it aborts.
      if (ci) host.add(new CiSimulatorWorkload(ci.simulator));
      return host;
    },
    // The status web server, unless --no-webapp: once the pool runs, so its pages show a started daemon.
    ...(options.webapp && { serve: (prepared, host, metrics) => serveNodepooldStatus(prepared, host, metrics, () => nodepoold?.queuedWork ?? {}) }),
  });
});

process.exitCode = await runProgram(program, argv, processOutput);
