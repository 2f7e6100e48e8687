import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLogSettings, Logging } from '../../src/log/index.js';
import { tempDir } from '../support/config-files.js';

function write(name: string, text: string): string {
  const file = join(tempDir(), name);
  writeFileSync(file, text);
  return file;
}

describe('the -l logging configuration', () => {
  it('reads our YAML format with per-component levels and a destination', () => {
    const file = write('logging.yaml', 'level: warning\ndestination: /tmp/x.log\nloggers:\n  nodepool.builder: debug\n');
    expect(loadLogSettings(file)).toEqual({
      level: 'warn',
      destination: '/tmp/x.log',
      loggers: { 'nodepool.builder': 'debug' },
    });
  });

  it('reads the Python fileConfig INI that Nodepool 0.4 took', () => {
    const file = write(
      'logging.conf',
      [
        '[loggers]', 'keys=root,nodepool', '',
        '[logger_root]', 'level=WARNING', 'handlers=file', '',
        '[logger_nodepool]', 'level=DEBUG', 'handlers=file', 'qualname=nodepool', '',
        '[handler_file]', 'class=logging.handlers.WatchedFileHandler', "args=('/var/log/nodepool/np.log',)", '',
      ].join('\n'),
    );
    expect(loadLogSettings(file)).toEqual({
      level: 'warn',
      destination: '/var/log/nodepool/np.log',
      loggers: { nodepool: 'debug' },
    });
  });

  it('refuses an unknown level, naming it and where it is', () => {
    const file = write('bad.yaml', 'loggers:\n  nodepool.db: loud\n');
    expect(() => loadLogSettings(file)).toThrow(/loggers\.nodepool\.db: unknown level 'loud'/);
  });

  it('refuses an unknown key', () => {
    const file = write('bad.yaml', 'levle: info\n');
    expect(() => loadLogSettings(file)).toThrow(/unknown key 'levle'/);
  });

  it('refuses a missing file with the file name and no stack trace', () => {
    expect(() => loadLogSettings('/nonexistent/logging.yaml')).toThrow(
      '/nonexistent/logging.yaml: cannot read logging configuration (ENOENT)',
    );
  });
});

describe('loggers', () => {
  it('give each component its own level and never write secrets', () => {
    const dir = tempDir();
    const destination = join(dir, 'out.log');
    const logging = new Logging({ level: 'warn', destination, loggers: { 'nodepool.builder': 'debug' } });
    logging.get('nodepool.builder.debian').debug({ password: 'hunter2', auth: { password: 'p2' } }, 'building');
    logging.get('nodepool.NodePool').info('not shown at warn');
    logging.get('nodepool.NodePool').warn({ dburi: 'mysql://u:pw@h/db' }, 'shown');
    const lines = readFileSync(destination, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.name, l.level, l.msg])).toEqual([
      ['nodepool.builder.debian', 'debug', 'building'],
      ['nodepool.NodePool', 'warn', 'shown'],
    ]);
    const text = readFileSync(destination, 'utf8');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('p2');
    expect(text).not.toContain('pw@');
  });

  it('log at debug everywhere with --debug', () => {
    const destination = join(tempDir(), 'out.log');
    const logging = new Logging({ level: 'info', destination, loggers: {} }, { debug: true });
    logging.get('nodepool.config').debug('detail');
    expect(readFileSync(destination, 'utf8')).toContain('"msg":"detail"');
  });
});
