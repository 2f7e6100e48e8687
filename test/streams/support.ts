/** Helpers for the stream tests: a logger that keeps its lines, config files in a temporary directory. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Subject, filter, firstValueFrom, timeout } from 'rxjs';
import type { Logger } from '../../src/log/index.js';

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger whose lines are kept in memory; `lines$` lets a test wait for one. */
export function memoryLogger(): { logger: Logger; lines: LogLine[]; waitForLine: (match: (l: LogLine) => boolean) => Promise<LogLine> } {
  const lines: LogLine[] = [];
  const lines$ = new Subject<LogLine>();
  const logger = pino(
    { level: 'debug', formatters: { level: (label) => ({ level: label }) } },
    {
      write(text: string) {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        lines$.next(line);
      },
    },
  );
  const waitForLine = (match: (l: LogLine) => boolean): Promise<LogLine> => {
    const seen = lines.find(match);
    return seen ? Promise.resolve(seen) : firstValueFrom(lines$.pipe(filter(match), timeout(5000)));
  };
  return { logger, lines, waitForLine };
}

const dirs: string[] = [];

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nodepool-streams-'));
  dirs.push(dir);
  return dir;
}

export function cleanTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function write(file: string, text: string): void {
  writeFileSync(file, text);
}

/** A valid nodepool.yaml with one fake provider `east` (max-servers as given) and label `small`. */
export function configYaml(options: { maxServers?: number; providers?: string[]; minReady?: number } = {}): string {
  const providers = options.providers ?? ['east'];
  return [
    'diskimages:',
    '  - name: debian',
    'providers:',
    ...providers.flatMap((name) => [
      `  - name: ${name}`,
      '    driver: fake',
      `    max-servers: ${options.maxServers ?? 5}`,
      '    images:',
      '      - name: debian',
      '        min-ram: 1024',
    ]),
    'labels:',
    '  - name: small',
    '    image: debian',
    `    min-ready: ${options.minReady ?? 1}`,
    '    providers:',
    ...providers.map((name) => `      - name: ${name}`),
    'targets:',
    '  - name: jenkins',
    '',
  ].join('\n');
}

/** Resolves once `check` holds, checking after each turn of the event loop; fails after `ms`. */
export async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((done) => setImmediate(done));
  }
}
