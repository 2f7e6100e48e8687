import { readFileSync, statSync } from 'node:fs';
import { parse as parseIni } from 'ini';
import type { Level } from 'pino';
import { parse as parseYaml } from 'yaml';
import { parseLevel } from './levels.js';
import { NodepoolError } from '../core/errors.js';

/** How and where a program logs; read from the `-l` file (docs/logging.md). */
export interface LogSettings {
  /** Level of every logger not named in `loggers`. */
  level: Level;
  /** Per-component levels, by logger name (`nodepool.builder`, ...). */
  loggers: Record<string, Level>;
  /** `stderr`, `stdout` or a file path (appended to). */
  destination: string;
  /** `text` for people, `json` for machines; unset: text on a terminal, JSON anywhere else. */
  format?: LogFormat;
}

export type LogFormat = 'json' | 'text';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'text'];

export const DEFAULT_LOG_SETTINGS: LogSettings = { level: 'info', loggers: {}, destination: 'stderr' };

export class LogConfigError extends NodepoolError {
  constructor(file: string, problem: string) {
    super('NP_CONFIG_LOGGING', `${file}: ${problem}`);
    this.name = 'LogConfigError';
  }
}

/**
 * Reads a logging configuration. Two formats: our YAML (`level`, `loggers`,
 * `destination`), and the Python `logging.config.fileConfig` INI that Nodepool
 * 0.4 took with `-l`, so an operator can keep the file they have: logger
 * levels by `qualname` and the file of the first file handler are honoured.
 */
export function loadLogSettings(file: string): LogSettings {
  let text: string;
  try {
    if (statSync(file).isDirectory()) throw new LogConfigError(file, 'is a directory, not a logging configuration');
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof LogConfigError) throw err;
    throw new LogConfigError(file, `cannot read logging configuration (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return /^\s*\[/.test(stripComments(text)) ? fromPythonIni(file, text) : fromYaml(file, text);
}

function stripComments(text: string): string {
  return text.replace(/^\s*[#;].*$/gm, '');
}

function fromYaml(file: string, text: string): LogSettings {
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (err) {
    throw new LogConfigError(file, `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new LogConfigError(file, 'expected a mapping with level, loggers and destination');
  }
  const raw = doc as Record<string, unknown>;
  const settings: LogSettings = { ...DEFAULT_LOG_SETTINGS, loggers: {} };
  for (const key of Object.keys(raw)) {
    if (!['level', 'loggers', 'destination', 'format'].includes(key)) {
      throw new LogConfigError(file, `unknown key '${key}' (expected level, loggers, destination, format)`);
    }
  }
  if (raw.level !== undefined) settings.level = levelOf(file, 'level', raw.level);
  if (raw.format !== undefined) {
    if (!LOG_FORMATS.includes(raw.format as LogFormat)) throw new LogConfigError(file, `format: expected ${LOG_FORMATS.join(' or ')}`);
    settings.format = raw.format as LogFormat;
  }
  if (raw.destination !== undefined) {
    if (typeof raw.destination !== 'string' || raw.destination === '') {
      throw new LogConfigError(file, 'destination: expected stderr, stdout or a file path');
    }
    settings.destination = raw.destination;
  }
  if (raw.loggers !== undefined) {
    if (typeof raw.loggers !== 'object' || raw.loggers === null || Array.isArray(raw.loggers)) {
      throw new LogConfigError(file, 'loggers: expected a mapping of logger name to level');
    }
    for (const [name, value] of Object.entries(raw.loggers)) {
      settings.loggers[name] = levelOf(file, `loggers.${name}`, value);
    }
  }
  return settings;
}

function levelOf(file: string, where: string, value: unknown): Level {
  const level = typeof value === 'string' ? parseLevel(value) : undefined;
  if (!level) {
    throw new LogConfigError(file, `${where}: unknown level '${String(value)}' (expected debug, info, warning, error, critical)`);
  }
  return level;
}

/** The subset of Python's fileConfig that decides levels and the log file. */
function fromPythonIni(file: string, text: string): LogSettings {
  const ini = parseIni(text) as Record<string, Record<string, string> | undefined>;
  const settings: LogSettings = { ...DEFAULT_LOG_SETTINGS, loggers: {} };
  for (const [section, body] of Object.entries(ini)) {
    if (!section.startsWith('logger_') || !body?.level) continue;
    const level = levelOf(file, `[${section}] level`, body.level);
    if (section === 'logger_root') settings.level = level;
    else settings.loggers[body.qualname ?? section.slice('logger_'.length)] = level;
  }
  const fileHandler = Object.entries(ini).find(
    ([section, body]) => section.startsWith('handler_') && /FileHandler$/.test(body?.class ?? ''),
  );
  const path = fileHandler?.[1]?.args?.match(/['"]([^'"]+)['"]/)?.[1];
  if (path) settings.destination = path;
  return settings;
}
