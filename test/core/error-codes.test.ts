/**
 * The error codes an operator searches for: each one documented in
 * docs/errors.md, every cloud failure kind mapped to one, and the commands
 * printing them before the message.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeOf, ERROR_CODES } from '../../src/core/errors.js';
import { DriverError, type DriverErrorKind } from '../../src/drivers/driver.js';
import { PROJECT_ROOT, runExecutable } from '../support/cli.js';
import { minimalConfig, tempDir, writeConfigFile } from '../support/config-files.js';

const KINDS: DriverErrorKind[] = ['not-found', 'quota', 'rate-limited', 'unavailable', 'bad-request', 'auth', 'conflict', 'unknown'];

describe('error codes', () => {
  it('are each documented in docs/errors.md, and nothing there is not a code', () => {
    const doc = readFileSync(join(PROJECT_ROOT, 'docs/errors.md'), 'utf8');
    const documented = [...doc.matchAll(/^### (NP_[A-Z_]+)$/gm)].map((m) => m[1]);
    expect([...documented].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('name every kind of cloud failure', () => {
    for (const kind of KINDS) expect(codeOf(new DriverError(kind, 'x')), kind).toBe(`NP_CLOUD_${kind.toUpperCase().replace('-', '_')}`);
  });

  it('are printed by the commands before the message', async () => {
    const dir = tempDir();
    const noDatabase = await runExecutable('nodepool', ['-c', writeConfigFile(dir, minimalConfig()), 'list']);
    expect(noDatabase.stderr).toMatch(/^nodepool: \[NP_DB_NOT_CONFIGURED\] no database configured/);

    const invalid = await runExecutable('nodepool', ['-c', writeConfigFile(dir, { labels: [], providers: 'none', targets: [] }, 'bad.yaml'), 'list']);
    expect(invalid.stderr).toMatch(/^nodepool: \[NP_CONFIG_INVALID\] invalid configuration:/);

    // Nothing listens on port 1 of loopback.
    const unreachable = writeConfigFile(dir, minimalConfig({ dburi: 'mysql://nodepool@127.0.0.1:1/nodepool' }), 'unreachable.yaml');
    const down = await runExecutable('nodepool', ['-c', unreachable, 'list']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^nodepool: \[NP_DB_UNAVAILABLE\] database mysql:\/\/nodepool@127\.0\.0\.1:1\/nodepool is unavailable/);
  });

  it('leave the answers of the 0.4 commands as they were', async () => {
    const dir = tempDir();
    const configFile = writeConfigFile(dir, minimalConfig({ dburi: `sqlite://${join(dir, 'np.db')}` }));
    const result = await runExecutable('nodepool', ['-c', configFile, 'hold', '4242']);
    expect(result.stderr.trim()).toBe('nodepool: Node 4242 not found.');
  });
});
