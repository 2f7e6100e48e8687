import type { ErrorCode } from '../core/errors.js';

/**
 * A runtime failure of a command: printed on stderr, exit code 1. One an
 * operator acts on carries a stable code (docs/errors.md), printed before
 * the message; the 0.4 answers (`Node 7 not found.`) print as they were.
 */
export class CommandFailure extends Error {
  readonly code: ErrorCode | undefined;
  readonly exitCode: number;

  constructor(message: string, options: { code?: ErrorCode | undefined; exitCode?: number } = {}) {
    super(message);
    this.name = 'CommandFailure';
    this.code = options.code;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Exit codes of every program (docs/commands.md): 0 success, 1 runtime failure, 2 usage error. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
