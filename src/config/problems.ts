/**
 * What validation reports. A problem names the file, the line (when one can
 * be pointed at), the YAML path and a message an operator can act on; it
 * never carries a secret value.
 */
import type { ErrorCode } from '../core/errors.js';

export type Severity = 'error' | 'warning';

export interface ConfigProblem {
  file: string;
  line?: number;
  /** Like `providers[0].images[1].min-ram`; `(top)` for the whole document, '' for the file itself. */
  path: string;
  message: string;
  severity: Severity;
}

/**
 * `<file>:<line>: <path>: <message>`, the shape compilers use so editors can
 * jump to the line. Warnings say so at the start of the message part; the
 * path part is left out when it is empty (problems with the file itself).
 */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  const message = p.severity === 'warning' ? `warning: ${p.message}` : p.message;
  return p.path === '' ? `${where}: ${message}` : `${where}: ${p.path}: ${message}`;
}

export function hasErrors(problems: readonly ConfigProblem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}

/** Thrown where a caller cannot go on without a valid file (daemon start, secure file). */
export class ConfigError extends Error {
  readonly code: ErrorCode = 'NP_CONFIG_INVALID';
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** `labels[0].providers[1].name` from `['labels', 0, 'providers', 1, 'name']`. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top)';
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}
