/**
 * Small builders for nodepool.yaml texts: a valid minimal file whose sections
 * a test replaces one at a time, written to a fresh temporary directory.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { ConfigProblem, ConfigResult, LoadOptions } from '../../src/config/index.js';

const dirs: string[] = [];

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nodepool-config-'));
  dirs.push(dir);
  return dir;
}

export function cleanTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function writeFile(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

type Section = 'diskimages' | 'labels' | 'providers' | 'targets';

/** Each section's entries as YAML lines, indented as list items under the section key. */
export const BASE: Record<Section, string[]> = {
  diskimages: ['- name: img'],
  labels: ['- name: lab', '  image: img', '  providers:', '    - name: prov'],
  providers: ['- name: prov', '  driver: fake', '  max-servers: 5', '  images:', '    - name: img', '      min-ram: 1024'],
  targets: ['- name: t1'],
};

export interface Parts extends Partial<Record<Section, string[] | null>> {
  /** Top-level lines written before the sections. */
  top?: string[];
}

/** A nodepool.yaml text: `null` leaves a section out, an array replaces its entries. */
export function configText(parts: Parts = {}): string {
  const out = [...(parts.top ?? [])];
  for (const section of ['diskimages', 'labels', 'providers', 'targets'] as const) {
    const entries = parts[section] === undefined ? BASE[section] : parts[section];
    if (entries === null) continue;
    out.push(`${section}:`, ...entries.map((l) => `  ${l}`));
  }
  return `${out.join('\n')}\n`;
}

/** A provider entry (list item lines) with the given extra lines after its name. */
export function provider(name: string, ...lines: string[]): string[] {
  return [`- name: ${name}`, ...lines.map((l) => `  ${l}`)];
}

/** The 1-based line of the `occurrence`-th line containing `needle`. */
export function lineOf(text: string, needle: string, occurrence = 1): number {
  let seen = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.includes(needle) && ++seen === occurrence) return i + 1;
  }
  throw new Error(`'${needle}' (occurrence ${occurrence}) not in:\n${text}`);
}

/** Loads `text` as nodepool.yaml where no clouds.yaml can be found (unless the test puts one there). */
export function load(text: string, options: LoadOptions = {}): { result: ConfigResult; file: string; dir: string } {
  const dir = tempDir();
  const file = writeFile(dir, 'nodepool.yaml', text);
  const result = loadConfig(file, { env: {}, cwd: dir, homeDir: dir, cloudsSystemDir: dir, ...options });
  return { result, file, dir };
}

export interface Expected {
  path: string;
  line?: number;
  message: string;
  severity?: 'error' | 'warning';
}

/** Exactly one problem at `path` whose message contains `message`, on `line`. */
export function expectProblem(result: ConfigResult, want: Expected): ConfigProblem {
  const matching = result.problems.filter((p) => p.path === want.path && p.message.includes(want.message));
  expect(matching, `problems were:\n${result.problems.map((p) => `${p.line}: ${p.path}: ${p.message}`).join('\n')}`).toHaveLength(1);
  const problem = matching[0] as ConfigProblem;
  expect(problem.line).toBe(want.line);
  expect(problem.severity).toBe(want.severity ?? 'error');
  if ((want.severity ?? 'error') === 'error') expect(result.config).toBeUndefined();
  return problem;
}
