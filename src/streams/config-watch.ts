/**
 * The running configuration as a stream (docs/behaviour.md, "The daemons"): the file is
 * re-read when it changes on disk and every `intervalMs` in any case; a new
 * valid configuration that differs from the running one is emitted with its
 * diff; an invalid or missing file is logged and the running one stays.
 */
import { readFileSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import {
  concat, debounceTime, defer, distinctUntilChanged, filter, interval, map, merge, Observable, of, retry,
  scan, skip, startWith, tap, throwError, timer,
} from 'rxjs';
import { ConfigError, formatProblem, loadConfig } from '../config/index.js';
import type { ConfigProblem, ConfigResult, NodepoolConfig } from '../config/index.js';
import { describeDiff, diffConfig, isEmpty } from '../config/diff.js';
import type { ConfigDiff } from '../config/diff.js';
import type { Logger } from '../log/index.js';
import { schedulerFor } from './clock-scheduler.js';
import type { TimeSource } from './clock-scheduler.js';

export interface ConfigUpdate {
  config: NodepoolConfig;
  /** From `previous` to `config`; for the first emission, everything is added. */
  diff: ConfigDiff;
  /** The configuration `config` replaces; undefined for the first emission. */
  previous?: NodepoolConfig;
}

export interface WatchConfigOptions extends TimeSource {
  /** Re-read this often even when no change was seen on disk. */
  intervalMs?: number;
  /** Wait this long after the last change on disk before reading (editors write in bursts). */
  debounceMs?: number;
  logger: Logger;
  /** How the file is read and validated; tests substitute their own. */
  load?: (file: string) => ConfigResult;
  /**
   * The configuration already running, read from the file a while ago (a
   * daemon's start): the first update is then measured from it, so a file
   * changed in between is a reload rather than the starting point.
   */
  running?: NodepoolConfig;
}

/** One reading of the file. `key` tells readings apart, so each distinct one is reported once. */
type Reading =
  | { kind: 'valid'; config: NodepoolConfig; problems: ConfigProblem[]; key: string }
  | { kind: 'invalid' | 'missing'; problems: ConfigProblem[]; key: string };

/**
 * Emits the initial configuration at once, then one update per change that
 * validates. Errors at subscription with a ConfigError when the initial file
 * is invalid (the daemon refuses to start); never errors afterwards.
 */
export function watchConfig(file: string, options: WatchConfigOptions): Observable<ConfigUpdate> {
  const { intervalMs = 60_000, debounceMs = 200, logger, load = loadConfig, running } = options;
  const scheduler = schedulerFor(options);

  return defer(() => {
    const first = read(file, load);
    if (!running && first.kind !== 'valid') {
      return throwError(() => new ConfigError(first.problems.filter((p) => p.severity === 'error')));
    }
    if (!running) reportWarnings(first, logger);
    const startConfig = running ?? (first as Extract<Reading, { kind: 'valid' }>).config;
    const initial: ConfigUpdate = { config: startConfig, diff: diffConfig(undefined, startConfig) };

    const changedOnDisk = directoryEvents(file).pipe(
      tap({ error: (err: unknown) => logger.warn({ err, file }, `cannot watch ${dirname(resolve(file))} for changes; re-reading every ${intervalMs} ms and trying again then`) }),
      retry({ delay: () => timer(intervalMs, scheduler) }),
      debounceTime(debounceMs, scheduler),
    );
    // After the watch has started, one more reading: a change between the first reading and the watch's start had no event.
    const readings = merge(changedOnDisk, interval(intervalMs, scheduler), of(undefined)).pipe(
      map(() => read(file, load)),
      startWith(first),
      distinctUntilChanged((a, b) => a.key === b.key),
      // The first reading is the starting point, unless the file may have changed since the running configuration was read.
      skip(running ? 0 : 1),
    );
    const reloads = readings.pipe(
      tap((reading) => report(file, reading, logger)),
      filter((reading): reading is Extract<Reading, { kind: 'valid' }> => reading.kind === 'valid'),
      scan((last: ConfigUpdate, reading) => ({
        config: reading.config,
        diff: diffConfig(last.config, reading.config),
        previous: last.config,
      }), initial),
      filter((update) => !isEmpty(update.diff)),
      tap((update) => logger.info({ file }, `configuration reloaded: ${describeDiff(update.diff)}`)),
    );
    return concat(of(initial), reloads);
  });
}

/**
 * Changes to the file, seen through its directory: editors replace a file by
 * renaming a new one over it, and a watch on the file itself would stay on
 * the old, unlinked one. An event without a name (some platforms) counts.
 */
function directoryEvents(file: string): Observable<void> {
  const name = basename(file);
  return new Observable<void>((subscriber) => {
    const watcher = watch(dirname(resolve(file)), (_event, changed) => {
      if (changed === null || changed === name) subscriber.next();
    });
    watcher.on('error', (err) => subscriber.error(err));
    return () => watcher.close();
  });
}

function read(file: string, load: (file: string) => ConfigResult): Reading {
  const text = readText(file);
  let result: ConfigResult;
  try {
    result = load(file);
  } catch (err) {
    // The loader reports problems rather than throwing; should it throw, the
    // running configuration must still stay.
    result = { problems: [{ file, path: '', message: `cannot load: ${(err as Error).message}`, severity: 'error' }], ignored: [] };
  }
  const key = JSON.stringify([text ?? null, result.problems, result.config ?? null]);
  if (result.config) return { kind: 'valid', config: result.config, problems: result.problems, key };
  return { kind: text === undefined ? 'missing' : 'invalid', problems: result.problems, key };
}

/** The file's text; undefined when it does not exist (deleted, or mid-replace). */
function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : `unreadable: ${(err as NodeJS.ErrnoException).code ?? ''}`;
  }
}

function report(file: string, reading: Reading, logger: Logger): void {
  const lines = reading.problems.map(formatProblem);
  if (reading.kind === 'missing') {
    logger.warn({ file }, `configuration file ${file} is missing; keeping the running configuration until it is back`);
  } else if (reading.kind === 'invalid') {
    logger.error({ file, problems: lines }, `configuration file ${file} is invalid; keeping the running configuration:\n${lines.join('\n')}`);
  } else {
    reportWarnings(reading, logger);
  }
}

function reportWarnings(reading: Reading, logger: Logger): void {
  const warnings = reading.problems.filter((p) => p.severity === 'warning').map(formatProblem);
  if (warnings.length > 0) logger.warn({ problems: warnings }, `configuration warnings:\n${warnings.join('\n')}`);
}
