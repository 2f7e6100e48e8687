/**
 * Stable codes for the errors an operator meets, listed with what to do
 * about each in docs/errors.md. A code never changes meaning; a new kind of
 * error gets a new code. Errors carry their code as `code` (an own
 * property, so it is in every JSON log line), and the commands print it
 * before the message: `nodepool: [NP_DB_UNAVAILABLE] database ... is unavailable: ...`.
 */

export const ERROR_CODES = [
  'NP_CONFIG_INVALID',
  'NP_CONFIG_LOGGING',
  'NP_CONFIG_ENV',
  'NP_DB_NOT_CONFIGURED',
  'NP_DB_URI',
  'NP_DB_UNAVAILABLE',
  'NP_DB_MIGRATION',
  'NP_CLOUD_AUTH',
  'NP_CLOUD_QUOTA',
  'NP_CLOUD_RATE_LIMITED',
  'NP_CLOUD_UNAVAILABLE',
  'NP_CLOUD_BAD_REQUEST',
  'NP_CLOUD_NOT_FOUND',
  'NP_CLOUD_CONFLICT',
  'NP_CLOUD_UNKNOWN',
  'NP_CLOUD_STATE_FILE',
  'NP_DAEMON_RUNNING',
  'NP_DAEMON_PID_FILE',
  'NP_DAEMON_DRAIN',
  'NP_BUILDER_NO_IMAGES_DIR',
  'NP_SSH_KEY',
  'NP_SSH_FAILED',
  'NP_READY_SCRIPT',
  'NP_BUILD_FAILED',
  'NP_DELETE_NOW',
  'NP_WEBAPP_PORT_IN_USE',
  'NP_WEBAPP_LISTEN',
  'NP_STATSD_SETTINGS',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The code an error carries, if it is one of ours. */
export function codeOf(error: unknown): ErrorCode | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : undefined;
}

/** An error an operator acts on, with its stable code. */
export class NodepoolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NodepoolError';
  }
}
