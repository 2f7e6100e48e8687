/**
 * Log lines for people and for machines: text on a terminal, JSON anywhere
 * else (a file, a pipe), `--log-format` over both.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LOG_SETTINGS, loadLogSettings, Logging } from '../../src/log/index.js';
import { PROJECT_ROOT, runExecutable } from '../support/cli.js';
import { tempDir } from '../support/config-files.js';
import { waitFor } from '../support/daemon.js';
import { writePoolConfig } from '../support/pool-config.js';

/** What one logger writes to a file with these options. */
function written(format?: 'json' | 'text'): string {
  const file = join(tempDir(), 'np.log');
  const logging = new Logging({ ...DEFAULT_LOG_SETTINGS, destination: file }, format ? { format } : {});
  logging.get('nodepool.NodePool').info({ node: 3, state: 'ready' }, 'node 3 is ready');
  return readFileSync(file, 'utf8');
}

describe('the log format', () => {
  it('is JSON in a file unless asked otherwise: one object per line, the logger’s name and the fields in it', () => {
    const line = JSON.parse(written().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'info', name: 'nodepool.NodePool', node: 3, state: 'ready', msg: 'node 3 is ready' });
  });

  it('as text is a line a person reads: time, level, logger and message, then the fields', () => {
    const text = written('text');
    expect(text).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: nodepool\.NodePool: node 3 is ready \{"node":3,"state":"ready"\}\n$/);
  });

  it('the -l file may choose the format; anything but json or text is refused with the file named', () => {
    const dir = tempDir();
    const good = join(dir, 'logging.yaml');
    writeFileSync(good, 'level: info\nformat: text\n');
    expect(loadLogSettings(good).format).toBe('text');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'format: xml\n');
    expect(() => loadLogSettings(bad)).toThrow(/bad\.yaml.*format: expected json or text/);
  });

  it('--log-format takes json or text and refuses anything else as a usage error', async () => {
    const run = await runExecutable('nodepoold', ['-d', '-c', '/nonexistent/nodepool.yaml', '--log-format', 'yaml']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--log-format.*yaml.*json, text/s);
  });

  it('a daemon started with --log-format text writes text even to a pipe', { timeout: 30_000 }, async () => {
    const dir = tempDir();
    const configFile = writePoolConfig({ dir, dburi: `sqlite://${join(dir, 'np.db')}` });
    const child = spawn(process.execPath, [`${PROJECT_ROOT}bin/nodepoold.js`, '-d', '-c', configFile, '--no-builder', '--log-format', 'text'], {
      cwd: PROJECT_ROOT, env: { ...process.env, NODEPOOL_DBURI: undefined }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let said = '';
    child.stderr.on('data', (chunk: Buffer) => (said += chunk.toString('utf8')));
    try {
      await waitFor('the start line', () => /\] INFO: nodepool\.NodePool: nodepoold started/.test(said), { timeoutMs: 20_000 });
      expect(said).not.toMatch(/^\{/m);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
