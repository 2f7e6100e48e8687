/**
 * The standalone CI simulator, `bin/ci-simulator.js -c nodepool.yaml`: the
 * jobs of the file's `ci-simulator:` section, queued on its first Gearman
 * server (or a queue of its own), run on the ready nodes of its database,
 * and their job events published over ZeroMQ at `ci-simulator.publish` in
 * Jenkins' format, for a nodepoold that lists that endpoint in its
 * `zmq-publishers`. It follows changes of the file's jobs, and on SIGINT or
 * SIGTERM aborts the runs under way and stops.
 */
import { existsSync } from 'node:fs';
import { readToolOptions, type CliOutput } from '../tool-program.js';
import { Command, InvalidArgumentError } from 'commander';
import { skip, type Subscription } from 'rxjs';
import { formatProblem, loadConfig, loadSecureFile, resolveDbUri, type NodepoolConfig } from '../../config/index.js';
import { systemClock } from '../../core/clock.js';
import { openDatabase } from '../../db/index.js';
import { JobEventPublisher } from '../../events/index.js';
import { serverName, type GearmanAddress } from '../../gearman/index.js';
import { DEFAULT_LOG_SETTINGS, loadLogSettings, Logging } from '../../log/index.js';
import { seededRandom } from '../../simulated-cloud/random.js';
import { watchConfig } from '../../streams/index.js';
import { databaseNodeSource } from './node-source.js';
import { runQueueFor } from './queue-choice.js';
import { CiSimulator, type BuildEvent } from './simulator.js';
import { sshWork } from './ssh-work.js';

export type { CliOutput } from '../tool-program.js';

interface CliOptions {
  c: string;
  s?: string;
  l?: string;
  debug?: boolean;
  seed?: number;
}

/** The secure file nodepool reads when -s is not given, read here too when it exists. */
const DEFAULT_SECURE_FILE = '/etc/nodepool/secure.conf';

function seed(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`not a whole number: '${value}'`);
  return n;
}

export function ciSimulatorProgram(): Command {
  return new Command('ci-simulator')
    .description('Plays the CI system against nodepoold: the jobs of the ci-simulator section of nodepool.yaml.')
    .helpOption('-h, --help', 'show this help message and exit')
    .option('-c <CONFIG>', 'path to config file', '/etc/nodepool/nodepool.yaml')
    .option('-s <SECURE>', `path to secure file (default: ${DEFAULT_SECURE_FILE} when present)`)
    .option('-l <LOGCONFIG>', 'path to log config file')
    .option('--debug', 'log at debug level')
    .option('--seed <N>', 'seed the draws of failures, so runs fail the same way each time', seed);
}

/** A reason the program cannot start, printed as `ci-simulator: <message>`. */
class StartRefused extends Error {}

/**
 * Parses argv, starts the simulator and runs until `stopped` settles.
 * Exit codes as the other programs: 0, 1 failure, 2 usage.
 */
export async function runCiSimulatorProgram(argv: readonly string[], output: CliOutput, stopped: Promise<unknown>): Promise<number> {
  const read = readToolOptions<CliOptions>(ciSimulatorProgram(), argv, output);
  if ('exitCode' in read) return read.exitCode;
  const cli = read.options;
  let running: RunningSimulator;
  try {
    running = await startSimulator(cli);
  } catch (error) {
    output.err(`ci-simulator: ${(error as Error).message}\n`);
    return 1;
  }
  output.out(`ci-simulator: publishing job events on ${running.endpoint}; ${running.queue}\n`);
  await stopped;
  await running.stop();
  output.out('ci-simulator: stopped\n');
  return 0;
}

interface RunningSimulator {
  endpoint: string;
  /** Where the runs wait, for the banner. */
  queue: string;
  stop(): Promise<void>;
}

async function startSimulator(cli: CliOptions): Promise<RunningSimulator> {
  const logging = new Logging(cli.l ? loadLogSettings(cli.l) : DEFAULT_LOG_SETTINGS, { debug: cli.debug ?? false });
  const log = logging.get('nodepool.CiSimulator');
  const config = readConfig(cli.c);
  const settings = config.ciSimulator;
  if (!settings) throw new StartRefused(`${cli.c} has no ci-simulator section: nothing to run`);
  if (!settings.publish) throw new StartRefused(`${cli.c}: ci-simulator.publish is not set; the standalone simulator publishes its job events there (tcp://host:port)`);
  const db = await openDatabase(databaseUri(cli, config));
  let publisher: JobEventPublisher;
  try {
    publisher = await JobEventPublisher.bind(settings.publish);
  } catch (err) {
    await db.close();
    throw new StartRefused(`cannot publish on ${settings.publish}: ${(err as Error).message}`);
  }
  let current = config;
  const { queue, demand } = runQueueFor(config, log);
  if (demand) log.warn('no gearman-servers: the runs wait in a queue of the simulator, which nodepoold does not see (only min-ready nodes are launched)');
  const simulator = new CiSimulator({
    jobs: settings.jobs,
    queue,
    nodes: databaseNodeSource(db),
    clock: systemClock,
    log,
    work: sshWork(() => current, systemClock),
    // ZeroMQ drops what is published before a subscriber is there: a run starts only while one listens.
    mayStart: () => publisher.subscribers > 0,
    jobRows: db.jobs,
    ...(cli.seed !== undefined && { random: seededRandom(cli.seed) }),
  });
  const publishing = simulator.builds.subscribe((event) => void publish(publisher, event).catch((err: unknown) => {
    log.warn({ err, job: event.build.job, build: event.build.number }, `cannot publish ${event.phase} of run ${event.build.number} of ${event.build.job}`);
  }));
  const reloads: Subscription = watchConfig(cli.c, { logger: logging.get('nodepool.config'), clock: systemClock })
    .pipe(skip(1))
    .subscribe((update) => {
      current = update.config;
      simulator.reconfigure(update.config.ciSimulator?.jobs ?? []);
    });
  await simulator.start();
  log.info({ endpoint: publisher.endpoint }, `publishing job events on ${publisher.endpoint}; runs start while a subscriber listens (nodepoold's zmq-publishers)`);
  return {
    endpoint: publisher.endpoint,
    queue: demand ? "runs wait in the simulator's own queue" : `runs are queued on gearman ${serverName(config.gearmanServers[0] as GearmanAddress)}`,
    stop: async () => {
      reloads.unsubscribe();
      await simulator.stop();
      publishing.unsubscribe();
      publisher.close();
      await db.close();
    },
  };
}

function publish(publisher: JobEventPublisher, event: BuildEvent): Promise<void> {
  return event.phase === 'started' ? publisher.started(event.build) : publisher.finalized(event.build, event.status ?? 'UNKNOWN');
}

function readConfig(file: string): NodepoolConfig {
  const result = loadConfig(file);
  if (result.config) return result.config;
  const errors = result.problems.filter((p) => p.severity === 'error').map(formatProblem);
  throw new StartRefused(`invalid configuration:\n${errors.join('\n')}`);
}

/** As nodepool finds it: the environment, then the secure file, then nodepool.yaml. */
function databaseUri(cli: CliOptions, config: NodepoolConfig): string {
  const secureFile = cli.s ?? (existsSync(DEFAULT_SECURE_FILE) ? DEFAULT_SECURE_FILE : undefined);
  const secure = secureFile === undefined ? undefined : loadSecureFile(secureFile);
  const resolved = resolveDbUri({ env: process.env, secure, config });
  if (!resolved) throw new StartRefused('no database configured: set dburi in nodepool.yaml, the secure file (-s) or NODEPOOL_DBURI');
  return resolved.uri;
}
