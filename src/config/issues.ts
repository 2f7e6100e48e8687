/**
 * Turns zod's issues into operator messages: what was expected and what was
 * found, with the line of the offending node. Values of secret keys are never
 * echoed.
 */
import type { z } from 'zod';
import type { ConfigProblem } from './problems.js';
import { formatPath } from './problems.js';
import type { SourcePositions } from './positions.js';

const SECRET_KEYS = new Set(['password', 'dburi', 'apikey', 'credentials']);

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean (true or false)',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

export function issueToProblem(
  issue: z.core.$ZodIssue,
  raw: unknown,
  file: string,
  positions: SourcePositions,
): ConfigProblem {
  const path = issue.path;
  return {
    file,
    line: positions.lineOf(path),
    path: formatPath(path),
    message: messageFor(issue, raw),
    severity: 'error',
  };
}

function messageFor(issue: z.core.$ZodIssue, raw: unknown): string {
  const value = valueAt(raw, issue.path);
  const secret = SECRET_KEYS.has(String(issue.path[issue.path.length - 1]));
  switch (issue.code) {
    case 'invalid_type':
      if (value.missing) return `missing required key '${String(issue.path[issue.path.length - 1])}'`;
      // A message set in the schema (like "expected an integer") beats zod's own type name.
      if (issue.message.startsWith('expected ')) return `${issue.message}, found ${describe(value.value, secret)}`;
      return `expected ${expectedName(issue.expected)}, found ${describe(value.value, secret)}`;
    case 'invalid_union':
      return `expected ${unionExpected(issue)}, found ${describe(value.value, secret)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}; found ${describe(value.value, secret)}`;
    default:
      return issue.message;
  }
}

function expectedName(expected: string): string {
  return EXPECTED[expected] ?? expected;
}

function unionExpected(issue: z.core.$ZodIssueInvalidUnion): string {
  const names = issue.errors.flatMap((branch) =>
    branch.filter((i) => i.code === 'invalid_type' && i.path.length === 0).map((i) => expectedName((i as z.core.$ZodIssueInvalidType).expected)),
  );
  return names.length > 0 ? [...new Set(names)].join(' or ') : 'a different value';
}

/** A value as an operator would name it: `a string ("abc")`, `a list`, `an empty value`. */
export function describe(value: unknown, secret = false): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a date';
  // The value itself is shown only when it cannot be a secret.
  const shown = (kind: string, text: string): string => (secret ? kind : `${kind} (${text})`);
  switch (typeof value) {
    case 'string':
      return value.length > 60 ? 'a string' : shown('a string', JSON.stringify(value));
    case 'number':
      return Number.isInteger(value) ? shown('an integer', String(value)) : shown('a number', String(value));
    case 'boolean':
      return shown('a boolean', String(value));
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

/** The raw value at `path`, and whether its key is absent from an existing mapping. */
function valueAt(root: unknown, path: readonly PropertyKey[]): { value: unknown; missing: boolean } {
  let here: unknown = root;
  for (const seg of path) {
    if (typeof here !== 'object' || here === null) return { value: undefined, missing: false };
    const container = here as Record<PropertyKey, unknown>;
    if (!Array.isArray(here) && !(seg in container)) return { value: undefined, missing: true };
    here = container[seg];
  }
  return { value: here, missing: false };
}
