/**
 * Loads nodepool.yaml: read, parse keeping positions, report extra keys,
 * validate with the schema, then cross-check. Every failure becomes a
 * problem with file, line and path; nothing here throws for a bad file.
 */
import { LineCounter, parseDocument, visit } from 'yaml';
import type { Document, YAMLError } from 'yaml';
import { findCloudsYaml, loadCloudsYaml } from './clouds.js';
import type { CloudEntry } from './clouds.js';
import { crossCheck } from './cross-checks.js';
import { describe, issueToProblem } from './issues.js';
import { findExtraKeys } from './keys.js';
import { findDuplicateKeys, SourcePositions } from './positions.js';
import type { ConfigProblem } from './problems.js';
import { ConfigError, formatPath, hasErrors } from './problems.js';
import { readTextFile } from './read-file.js';
import { nodepoolSchema } from './schema.js';
import type { NodepoolConfig } from './types.js';

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  homeDir?: string;
  /** Where the system-wide clouds.yaml lives (`/etc/openstack`); for tests. */
  cloudsSystemDir?: string;
}

export interface ConfigResult {
  /** Present only when no problem is an error. */
  config?: NodepoolConfig;
  /** Errors and warnings in file order. */
  problems: ConfigProblem[];
  /** Paths of keys that were accepted but are not acted on, like `zookeeper-servers`. */
  ignored: string[];
}

/** Problems reported at the most; past them, one more says how many were left out. */
export const MAX_PROBLEMS = 100;

export function loadConfig(file: string, options: LoadOptions = {}): ConfigResult {
  const read = readTextFile(file, 'configuration file');
  if ('error' in read) return failed({ file, path: '', message: read.error, severity: 'error' });
  try {
    return capped(file, parseAndValidate(file, read.text, options));
  } catch (err) {
    // The YAML library and the validation recurse into nested values: a file nested thousands deep ends here.
    if (err instanceof RangeError) return failed({ file, path: '(top)', message: 'the file nests too deeply to be a configuration', severity: 'error' });
    throw err;
  }
}

/** The first MAX_PROBLEMS problems, and one that counts the rest. */
function capped(file: string, result: ConfigResult): ConfigResult {
  if (result.problems.length <= MAX_PROBLEMS) return result;
  const rest = result.problems.length - MAX_PROBLEMS;
  const errors = result.problems.slice(MAX_PROBLEMS).filter((p) => p.severity === 'error').length;
  const more: ConfigProblem = { file, path: '', message: `and ${rest} more problem(s) (${errors} of them errors), not shown`, severity: errors > 0 ? 'error' : 'warning' };
  return { ...result, problems: [...result.problems.slice(0, MAX_PROBLEMS), more] };
}

function parseAndValidate(file: string, text: string, options: LoadOptions): ConfigResult {
  const lineCounter = new LineCounter();
  // YAML 1.1 is what PyYAML (and so Nodepool 0.4) read: `yes`/`no` are booleans there.
  const doc = parseDocument(text, { lineCounter, version: '1.1', uniqueKeys: false, prettyErrors: false });
  const syntax: ConfigProblem[] = [];
  for (const e of doc.errors) syntax.push(yamlProblem(file, e, lineCounter, 'error'));
  for (const e of doc.warnings) syntax.push(yamlProblem(file, e, lineCounter, 'warning'));
  if (hasErrors(syntax)) return { problems: syntax, ignored: [] };

  const raw = toPlain(file, doc, lineCounter);
  if ('problem' in raw) return { problems: [...syntax, raw.problem], ignored: [] };
  const shape = checkTopLevel(file, doc, raw.value, lineCounter);
  if (shape) return { problems: [...syntax, shape], ignored: [] };
  return validate(file, doc, raw.value, lineCounter, syntax, options);
}

function validate(file: string, doc: Document, raw: unknown, lineCounter: LineCounter, syntax: ConfigProblem[], options: LoadOptions): ConfigResult {
  const positions = new SourcePositions(doc, lineCounter);
  const problems = [...syntax];
  // One at a time: spreading a hundred thousand problems into push() overflows the stack.
  for (const problem of duplicateKeyWarnings(file, doc, positions)) problems.push(problem);
  const ignored: string[] = [];
  for (const finding of findExtraKeys(raw)) {
    if (finding.kind === 'ignored') ignored.push(formatPath(finding.path));
    problems.push({ file, line: positions.lineOf(finding.path), path: formatPath(finding.path), message: finding.message, severity: 'warning' });
  }

  const parsed = nodepoolSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(issueToProblem(issue, raw, file, positions));
    return { problems: sortByLine(problems), ignored };
  }
  for (const problem of crossCheck({ config: parsed.data, file, positions, clouds: readClouds(options, problems, file) })) problems.push(problem);
  const sorted = sortByLine(problems);
  return hasErrors(sorted) ? { problems: sorted, ignored } : { config: parsed.data, problems: sorted, ignored };
}

/** loadConfig for callers that cannot go on without a valid file; warnings are dropped. */
export function loadConfigOrThrow(file: string, options?: LoadOptions): NodepoolConfig {
  const result = loadConfig(file, options);
  if (!result.config) throw new ConfigError(result.problems.filter((p) => p.severity === 'error'));
  return result.config;
}

function failed(problem: ConfigProblem): ConfigResult {
  return { problems: [problem], ignored: [] };
}

function yamlProblem(file: string, e: YAMLError, lines: LineCounter, severity: 'error' | 'warning'): ConfigProblem {
  // The library's message ends with " at line L, column C" (and a code frame
  // when pretty); keep the first sentence and give the line separately.
  const first = e.message.split('\n')[0] ?? e.message;
  const message = first.replace(/ at line \d+, column \d+:?$/, '');
  if (e.code === 'MULTIPLE_DOCS') {
    return { file, line: lines.linePos(e.pos[0]).line, path: '', message: 'YAML syntax: the file holds more than one document (---); nodepool.yaml must be a single document', severity };
  }
  const line = e.linePos?.[0].line ?? lines.linePos(e.pos[0]).line;
  // The parser recurses into nested flow collections and reports its own stack overflow.
  if (/Maximum call stack size exceeded/.test(message)) return { file, line, path: '', message: 'YAML: the file nests too deeply to be a configuration', severity };
  return { file, line, path: '', message: `YAML syntax: ${message}`, severity };
}

/** An empty file or a file that is not a mapping cannot be read key by key. */
/** The plain value; aliases are expanded, within a bound that stops "billion laughs" files. */
function toPlain(file: string, doc: Document, lines: LineCounter): { value: unknown } | { problem: ConfigProblem } {
  try {
    return { value: doc.toJS({ maxAliasCount: 10_000 }) };
  } catch (err) {
    if (err instanceof RangeError) throw err;
    return { problem: { file, line: unresolvedAliasLine(doc, lines), path: '(top)', message: `YAML: ${(err as Error).message}`, severity: 'error' } };
  }
}

/** The line of the first alias whose anchor is not defined before it, if that is what failed. */
function unresolvedAliasLine(doc: Document, lines: LineCounter): number | undefined {
  let line: number | undefined;
  visit(doc, {
    Alias(_, node) {
      if (node.resolve(doc) !== undefined || node.range === undefined || node.range === null) return undefined;
      line = lines.linePos(node.range[0]).line;
      return visit.BREAK;
    },
  });
  return line;
}

function checkTopLevel(file: string, doc: Document, value: unknown, lines: LineCounter): ConfigProblem | undefined {
  const contents = doc.contents;
  if (contents === null || (contents !== undefined && 'value' in contents && contents.value === null)) {
    return { file, path: '(top)', message: 'the file is empty (only comments or blank lines); expected a mapping with labels, providers and targets', severity: 'error' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Date) {
    const start = contents?.range?.[0];
    const line = start === undefined ? undefined : lines.linePos(start).line;
    return { file, line, path: '(top)', message: `the top level must be a mapping (labels:, providers:, targets: ...), found ${describe(value)}`, severity: 'error' };
  }
  return undefined;
}

function duplicateKeyWarnings(file: string, doc: Document, positions: SourcePositions): ConfigProblem[] {
  return findDuplicateKeys(doc, positions).map((dup) => ({
    file,
    line: dup.line,
    path: formatPath(dup.path),
    message: `key '${String(dup.path[dup.path.length - 1])}' appears twice (first at line ${dup.firstLine ?? '?'}); the last one is used`,
    severity: 'warning' as const,
  }));
}

/** Cloud names are checked only against a clouds.yaml that exists and reads. */
function readClouds(options: LoadOptions, problems: ConfigProblem[], file: string): { file: string; entries: Record<string, CloudEntry> } | undefined {
  const cloudsFile = findCloudsYaml({ env: options.env, cwd: options.cwd, homeDir: options.homeDir, systemDir: options.cloudsSystemDir });
  if (!cloudsFile) return undefined;
  try {
    return { file: cloudsFile, entries: loadCloudsYaml(cloudsFile) };
  } catch (err) {
    const why = err instanceof ConfigError ? err.problems.map((p) => p.message).join('; ') : (err as Error).message;
    problems.push({ file, path: '', message: `clouds.yaml at ${cloudsFile} ${why}; cloud names are not checked`, severity: 'warning' });
    return undefined;
  }
}

function sortByLine(problems: ConfigProblem[]): ConfigProblem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.line ?? 0) - (b.p.line ?? 0) || a.i - b.i)
    .map(({ p }) => p);
}
