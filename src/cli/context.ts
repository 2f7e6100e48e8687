import { existsSync } from 'node:fs';
import { formatProblem, loadConfig, loadSecureFile, resolveDbUri, type NodepoolConfig } from '../config/index.js';
import type { SecureConfig } from '../config/types.js';
import { openDatabase, type Database } from '../db/index.js';
import { DEFAULT_LOG_SETTINGS, loadLogSettings, Logging, LogConfigError } from '../log/index.js';
import { codeOf } from '../core/errors.js';
import { CommandFailure } from './failure.js';
import { DEFAULT_SECURE_FILE, type GlobalOptions } from './global-options.js';

/**
 * Logging as the `-l` and `--debug` options ask. Without `-l`, a daemon
 * logs from `info` up; a command only warnings, because it answers on
 * stdout and stderr itself (`delete --now` runs actors whose progress is
 * not the operator's business unless asked with --debug).
 */
export function loggingFor(options: GlobalOptions, role: 'daemon' | 'command' = 'command'): Logging {
  try {
    const settings = options.logconfig
      ? loadLogSettings(options.logconfig)
      : { ...DEFAULT_LOG_SETTINGS, level: role === 'daemon' ? DEFAULT_LOG_SETTINGS.level : ('warn' as const) };
    return new Logging(settings, { debug: options.debug ?? false, ...(options.logFormat && { format: options.logFormat }) });
  } catch (err) {
    if (err instanceof LogConfigError) throw new CommandFailure(err.message, { code: err.code });
    throw err;
  }
}

/** The configuration, or a failure listing every error in it. */
export function configFor(options: GlobalOptions, logging: Logging): NodepoolConfig {
  const result = loadConfig(options.config);
  const log = logging.get('nodepool.config');
  for (const problem of result.problems) {
    if (problem.severity === 'warning') log.debug(formatProblem(problem));
  }
  if (!result.config) {
    const errors = result.problems.filter((p) => p.severity === 'error').map(formatProblem);
    throw new CommandFailure(`invalid configuration:\n${errors.join('\n')}`, { code: 'NP_CONFIG_INVALID' });
  }
  return result.config;
}

/** The secure file: required when named with -s, optional at its default place. */
export function secureFor(options: GlobalOptions): SecureConfig | undefined {
  const file = options.secure ?? DEFAULT_SECURE_FILE;
  if (options.secure === undefined && !existsSync(file)) return undefined;
  try {
    return loadSecureFile(file);
  } catch (err) {
    throw new CommandFailure((err as Error).message, { code: codeOf(err) ?? 'NP_CONFIG_INVALID' });
  }
}

/** Opens (and migrates) the database the configuration names. */
export async function databaseFor(options: GlobalOptions, config: NodepoolConfig, logging: Logging, secure = secureFor(options)): Promise<Database> {
  const resolved = resolveDbUri({ env: process.env, secure, config });
  if (!resolved) {
    throw new CommandFailure(
      'no database configured: set dburi in the [database] section of the secure file (-s), ' +
        'the dburi key of nodepool.yaml, or the NODEPOOL_DBURI environment variable',
      { code: 'NP_DB_NOT_CONFIGURED' },
    );
  }
  try {
    const log = logging.get('nodepool.db');
    // knex's own warnings become lines of the log (JSON where the log is JSON), not bare lines on stderr.
    const db = await openDatabase(resolved.uri, { warnings: (text) => log.warn({ knex: true }, text) });
    log.debug({ database: db.uri, from: resolved.source }, 'database opened');
    return db;
  } catch (err) {
    throw new CommandFailure((err as Error).message, { code: codeOf(err) ?? 'NP_DB_UNAVAILABLE' });
  }
}

/** Everything a database command needs, closed again by `close()`. */
export interface CommandContext {
  config: NodepoolConfig;
  db: Database;
  logging: Logging;
  /** The secure file, when there is one. */
  secure?: SecureConfig;
}

export async function withContext<T>(options: GlobalOptions, fn: (ctx: CommandContext) => Promise<T>): Promise<T> {
  const logging = loggingFor(options);
  const config = configFor(options, logging);
  const secure = secureFor(options);
  const db = await databaseFor(options, config, logging, secure);
  try {
    return await fn({ config, db, logging, ...(secure && { secure }) });
  } finally {
    await db.close();
  }
}
