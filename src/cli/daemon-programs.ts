import { Command, InvalidArgumentError, Option } from 'commander';
import { packageVersion } from '../version.js';
import { configFor, databaseFor, loggingFor, secureFor } from './context.js';
import { DEFAULT_CONFIG_FILE, DEFAULT_SECURE_FILE, type GlobalOptions } from './global-options.js';
import type { NodepoolConfig, SecureConfig } from '../config/index.js';
import type { Database } from '../db/index.js';
import { LOG_FORMATS, type LogFormat, type Logging } from '../log/index.js';
import { parseCount } from './parse-args.js';
import { NodepoolError } from '../core/errors.js';
import { statsdSettingsFrom, type StatsdSettings } from '../metrics/index.js';
import { inspectorUrl } from '../actors/stately-inspector.js';

/** Options of nodepoold, exactly as the 0.4 line spelled them. */
export interface NodepooldOptions {
  c: string;
  s?: string;
  d?: boolean;
  l?: string;
  logFormat?: LogFormat;
  p?: string;
  builder: boolean;
  buildWorkers: number;
  uploadWorkers: number;
  deletes: boolean;
  launches: boolean;
  webapp: boolean;
  ciSimulator: boolean;
  /** `--drain`: drain the running daemon instead of starting one (src/cli/drain.ts). */
  drain?: boolean;
  /** The Stately inspector's WebSocket URL (docs/inspection.md). */
  inspectWs?: string;
}

export type BuilderOptions = Pick<NodepooldOptions, 'c' | 'l' | 'p' | 'd' | 'buildWorkers' | 'uploadWorkers' | 'webapp' | 'inspectWs'> & {
  webappPort: number;
};

/** nodepool-builder's status port: next to nodepoold's 8005, so both can run on one host. */
export const BUILDER_WEBAPP_PORT = 8006;

function positiveCount(value: string): number {
  return Math.max(1, parseCount(value));
}

function port(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65_535) throw new InvalidArgumentError(`expected a port from 0 to 65535, got '${value}'`);
  return Number(value);
}

/** `--inspect-ws URL`: refused as a usage error unless ws:// or wss://, before anything starts. */
function inspectWsOption(): Option {
  return new Option('--inspect-ws <URL>', 'send every actor event to the Stately inspector at this ws:// or wss:// URL').argParser((value: string) => {
    try {
      return inspectorUrl(value);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  });
}

/** `--log-format json|text`: text by default on a terminal, JSON anywhere else (docs/logging.md). */
function logFormatOption(): Option {
  return new Option('--log-format <FORMAT>', 'log lines as json or text (default: text on a terminal, else json)').choices(LOG_FORMATS);
}

export function nodepooldProgram(): Command {
  return new Command('nodepoold')
    .description('Node pool.')
    .helpOption('-h, --help', 'show this help message and exit')
    .option('-c <CONFIG>', 'path to config file', DEFAULT_CONFIG_FILE)
    .option('-s <SECURE>', `path to secure file (default: ${DEFAULT_SECURE_FILE} when present)`)
    .option('-d', 'do not run as a daemon')
    .option('-l <LOGCONFIG>', 'path to log config file')
    .addOption(logFormatOption())
    .option('-p <PIDFILE>', 'path to pid file')
    .option('--no-builder', 'do not run a builder inside nodepoold')
    .option('--build-workers <BUILD_WORKERS>', 'number of build workers', positiveCount, 1)
    .option('--upload-workers <UPLOAD_WORKERS>', 'number of upload workers', positiveCount, 4)
    .option('--no-deletes', 'delete nothing (nodes, leaked instances)')
    .option('--no-launches', 'launch nothing')
    .option('--no-webapp', 'do not serve the status web pages')
    .option('--no-ci-simulator', 'do not run the CI simulator of the ci-simulator section')
    .option('--drain', 'hand the providers of the running nodepoold (-p PIDFILE, or the only one on this host) to the other daemons, wait until it drives none, and exit')
    .addOption(inspectWsOption())
    .version(packageVersion(), '--version', 'show version');
}

export function builderProgram(): Command {
  return new Command('nodepool-builder')
    .description('NodePool Image Builder.')
    .helpOption('-h, --help', 'show this help message and exit')
    .option('-c <CONFIG>', 'path to config file', DEFAULT_CONFIG_FILE)
    .option('-l <LOGCONFIG>', 'path to log config file')
    .addOption(logFormatOption())
    .option('-p <PIDFILE>', 'path to pid file')
    .option('-d', 'do not run as a daemon')
    .option('--build-workers <BUILD_WORKERS>', 'number of build workers', positiveCount, 1)
    .option('--upload-workers <UPLOAD_WORKERS>', 'number of upload workers', positiveCount, 4)
    .option('--webapp-port <PORT>', 'port of the status web pages on 127.0.0.1 (0: any free port)', port, BUILDER_WEBAPP_PORT)
    .option('--no-webapp', 'do not serve the status web pages')
    .addOption(inspectWsOption())
    .version(packageVersion(), '--version', 'show version');
}

/** What a daemon has once its configuration is read and its database is open. */
export interface PreparedDaemon {
  globals: GlobalOptions;
  logging: Logging;
  config: NodepoolConfig;
  db: Database;
  /** The secure file, when there is one. */
  secure?: SecureConfig;
  /** Where statsd metrics go, when STATSD_HOST is set. */
  statsd?: StatsdSettings;
}

/**
 * What a daemon does before its main loop: read and validate the
 * configuration (an invalid one refuses the start), open and migrate the
 * database.
 */
export async function prepareDaemon(name: string, options: { c: string; s?: string; l?: string; logFormat?: LogFormat }): Promise<PreparedDaemon> {
  const globals: GlobalOptions = { config: options.c, secure: options.s, logconfig: options.l, ...(options.logFormat && { logFormat: options.logFormat }) };
  const logging = loggingFor(globals, 'daemon');
  const log = logging.get(name === 'nodepoold' ? 'nodepool.NodePool' : 'nodepool.builder');
  const statsd = statsdFromEnvironment();
  const config = configFor(globals, logging);
  const secure = secureFor(globals);
  const db = await databaseFor(globals, config, logging, secure);
  log.info({ config: options.c, database: db.uri }, 'configuration is valid and the database is ready');
  return { globals, logging, config, db, ...(secure && { secure }), ...(statsd && { statsd }) };
}

function statsdFromEnvironment(): StatsdSettings | undefined {
  try {
    return statsdSettingsFrom(process.env);
  } catch (err) {
    throw new NodepoolError('NP_STATSD_SETTINGS', (err as Error).message);
  }
}
