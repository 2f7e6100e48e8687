/**
 * The folders stand on floors (docs/architecture.md, "Floors"): a folder
 * imports only from folders on a lower floor, never from one beside or above
 * it, so the ground floor can be read without the rest and nothing depends
 * on the daemons. Read from the source files' own import lines.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../support/cli.js';

const FLOORS: Record<string, number> = {
  'machines': 0,
  'src/core': 0,
  'src/version.ts': 0,
  'src/config': 1,
  'src/log': 1,
  'src/db': 1,
  'src/simulated-cloud': 2,
  'src/allocation': 2,
  'src/dib': 2,
  'src/listings': 2,
  'src/ssh': 2,
  'src/streams': 2,
  'src/events': 2,
  'src/gearman': 2,
  'src/metrics': 2,
  'src/inspection': 3,
  'src/drivers': 3,
  'src/tools': 3,
  'src/demand': 3,
  'src/targets': 3,
  'src/gateway': 4,
  'src/actors': 5,
  'src/nodepoold': 6,
  'src/builder': 6,
  'src/web': 6,
  'src/cli': 7,
};

/** The folder a file belongs to: `machines`, `src/<folder>`, or a file directly under src/. */
function folderOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'machines') return 'machines';
  return parts.length === 2 ? file : `${parts[0]}/${parts[1]}`;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(PROJECT_ROOT, dir)).flatMap((entry) => {
    const path = `${dir}/${entry}`;
    if (statSync(join(PROJECT_ROOT, path)).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

interface Import {
  from: string;
  to: string;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(join(PROJECT_ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1] as string);
  return specifiers.map((spec) => ({
    from: file,
    to: relative(PROJECT_ROOT, resolve(PROJECT_ROOT, dirname(file), spec)).replace(/\.js$/, '.ts'),
  }));
}

const files = [...sourceFiles('src'), ...sourceFiles('machines')];
const imports = files.flatMap(importsOf);

describe('the floors of the source tree', () => {
  it('gives every folder a floor', () => {
    expect(files.map(folderOf).filter((folder) => FLOORS[folder] === undefined)).toEqual([]);
  });

  it('has no folder importing from one beside or above it', () => {
    const upward = imports
      .filter(({ from, to }) => folderOf(from) !== folderOf(to))
      .filter(({ from, to }) => (FLOORS[folderOf(to)] ?? Infinity) >= (FLOORS[folderOf(from)] ?? -1))
      .map(({ from, to }) => `${from} -> ${to}`);
    expect(upward).toEqual([]);
  });

  it('keeps the machines pure: nothing from src/, no I/O modules', () => {
    const machineFiles = files.filter((f) => f.startsWith('machines/'));
    const intoSrc = imports.filter(({ from, to }) => from.startsWith('machines/') && !to.startsWith('machines/'));
    expect(intoSrc).toEqual([]);
    const io = machineFiles.filter((f) => /from 'node:|from '(fs|net|http|child_process|knex|undici|ssh2)'/.test(readFileSync(join(PROJECT_ROOT, f), 'utf8')));
    expect(io).toEqual([]);
  });

  it('finds the imports it judges (the check reads the tree it claims to)', () => {
    expect(imports.length).toBeGreaterThan(200);
    expect(imports.some(({ from, to }) => from.startsWith('src/cli/') && to.startsWith('src/actors/'))).toBe(true);
  });
});
