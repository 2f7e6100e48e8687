import type { Level } from 'pino';

/** Level names as operators write them, including Python logging's spellings. */
const LEVEL_ALIASES: Record<string, Level> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
  fatal: 'fatal',
};

export function parseLevel(value: string): Level | undefined {
  return LEVEL_ALIASES[value.trim().toLowerCase()];
}
