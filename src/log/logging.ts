import { pino, type DestinationStream, type Level, type Logger } from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';
import { DEFAULT_LOG_SETTINGS, type LogFormat, type LogSettings } from './settings.js';

export type { Logger } from 'pino';

/**
 * Keys whose values never reach a log line, wherever they appear in a logged
 * object (credentials of clouds, targets and the database).
 */
const SECRET_KEYS = ['password', 'apikey', 'api_key', 'secret', 'token', 'dburi', 'application_credential_secret'];
const REDACT_PATHS = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

/**
 * The loggers of one process. Each component asks for its logger by name
 * (`nodepool.NodePool`, `nodepool.builder`, ...) as upstream's Python loggers
 * are named, and gets the level the settings give that name.
 */
export class Logging {
  readonly root: Logger;
  private readonly settings: LogSettings;

  /**
   * `stream` replaces the settings' destination (a test keeps the lines in
   * memory); `format` overrides the settings' (`--log-format`).
   */
  constructor(settings: LogSettings = DEFAULT_LOG_SETTINGS, options: { debug?: boolean; stream?: DestinationStream; format?: LogFormat } = {}) {
    this.settings = options.debug ? { ...settings, level: 'debug' } : settings;
    const format = options.format ?? this.settings.format ?? (isTerminal(this.settings.destination) ? 'text' : 'json');
    this.root = pino(
      {
        level: lowestLevel(this.settings),
        base: { pid: process.pid },
        redact: { paths: REDACT_PATHS, censor: '***' },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      options.stream ?? (format === 'text' ? textDestinationFor(this.settings.destination) : destinationFor(this.settings.destination)),
    );
  }

  /** The logger of one component; a name's level applies to its dotted children too. */
  get(name: string): Logger {
    return this.root.child({ name }, { level: this.levelFor(name) });
  }

  private levelFor(name: string): Level {
    let best: string | undefined;
    for (const configured of Object.keys(this.settings.loggers)) {
      const matches = name === configured || name.startsWith(`${configured}.`);
      if (matches && (best === undefined || configured.length > best.length)) best = configured;
    }
    return best === undefined ? this.settings.level : (this.settings.loggers[best] as Level);
  }
}

/** Whether the destination is a terminal a person reads (a file, a pipe or systemd's journal is not). */
function isTerminal(destination: string): boolean {
  if (destination === 'stderr') return process.stderr.isTTY === true;
  if (destination === 'stdout') return process.stdout.isTTY === true;
  return false;
}

/**
 * Lines for people: time, level, logger, message, then the other fields on
 * the same line (pino-pretty, the pino project's own formatter). Colours only
 * on a terminal.
 */
function textDestinationFor(destination: string): DestinationStream {
  const target = destination === 'stderr' ? 2 : destination === 'stdout' ? 1 : destination;
  // Loaded only for text logs: a daemon logging JSON never carries it.
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  return pretty({
    destination: target,
    mkdir: true,
    append: true,
    sync: true,
    colorize: isTerminal(destination),
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    messageFormat: '{if name}{name}: {end}{msg}',
    singleLine: true,
  });
}

function destinationFor(destination: string) {
  if (destination === 'stderr') return pino.destination({ fd: 2, sync: true });
  if (destination === 'stdout') return pino.destination({ fd: 1, sync: true });
  return pino.destination({ dest: destination, mkdir: true, append: true, sync: true });
}

/** The root must let through the most verbose level any named logger wants. */
function lowestLevel(settings: LogSettings): Level {
  const order: Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
  const all = [settings.level, ...Object.values(settings.loggers)];
  return order.find((level) => all.includes(level)) ?? settings.level;
}
