import { describe, expect, it } from 'vitest';
import { nodepoolEnvironment, ReadyScriptFailed, runReadyScript, shellQuote } from '../../src/ssh/index.js';
import { readyScriptCommand } from '../../src/ssh/shell.js';
import { makeKey, serverFor } from './fixtures.js';

describe('the ready script (launch step 9)', () => {
  it('runs from /opt/nodepool-scripts with every NODEPOOL_ value quoted and the hostname as argument', async () => {
    const key = makeKey();
    const server = await serverFor(key);
    server.installScript(
      'ready.sh',
      [
        '#!/bin/sh',
        'echo "cwd=$(basename "$PWD")"',
        'echo "host=$1 args=$#"',
        'printf "branch=[%s]\\n" "$NODEPOOL_BRANCH"',
        'printf "odd=[%s]\\n" "$NODEPOOL_ODD"',
        'echo "to stderr" >&2',
        'cat "$NODE_ROOT/etc/nodepool/role"',
      ].join('\n'),
    );
    server.writeNodeFile('/etc/nodepool/role', 'primary\n');
    const lines: string[] = [];

    const result = await runReadyScript(
      { host: server.host, port: server.port, username: 'jenkins', privateKey: key.private },
      {
        script: 'ready.sh',
        hostname: 'node-1.example.org',
        env: { NODEPOOL_BRANCH: 'stable/2015 "quoted" and \'single\'', NODEPOOL_ODD: '$(touch pwned); `id`; \\n *' },
        onOutput: (line, stream) => lines.push(`${stream}: ${line}`),
      },
    );

    expect(lines).toEqual(
      expect.arrayContaining([
        'stdout: cwd=nodepool-scripts',
        'stdout: host=node-1.example.org args=1',
        'stdout: branch=[stable/2015 "quoted" and \'single\']',
        'stdout: odd=[$(touch pwned); `id`; \\n *]',
        'stderr: to stderr',
        'stdout: primary',
      ]),
    );
    expect(lines).toHaveLength(6);
    expect(server.received.commands).toEqual([result.command]);
    expect(result.command).toMatch(/^cd \/opt\/nodepool-scripts && NODEPOOL_BRANCH='.*' NODEPOOL_ODD='.*' \.\/ready\.sh node-1\.example\.org$/);
  });

  it('a non-zero exit is rejected with the status and the last lines of output', async () => {
    const key = makeKey();
    const server = await serverFor(key);
    server.installScript('fail.sh', '#!/bin/sh\nfor i in 1 2 3 4 5; do echo "line $i"; done\necho "disk full" >&2\nexit 3\n');

    const failure = await runReadyScript(
      { host: server.host, port: server.port, username: 'jenkins', privateKey: key.private },
      { script: 'fail.sh', hostname: 'node-2', env: {}, tailLines: 3 },
    ).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(ReadyScriptFailed);
    const error = failure as ReadyScriptFailed;
    expect(error.exitCode).toBe(3);
    expect(error.lastLines).toEqual(['line 4', 'line 5', 'disk full']);
    expect(error.message).toBe(
      `ready script fail.sh on jenkins@127.0.0.1:${server.port} exited with status 3; last output:\nline 4\nline 5\ndisk full`,
    );
  });

  it('a missing script fails the same way, with the shell saying why', async () => {
    const key = makeKey();
    const server = await serverFor(key);
    server.installScript('other.sh', '#!/bin/sh\n');

    const failure = (await runReadyScript(
      { host: server.host, port: server.port, username: 'jenkins', privateKey: key.private },
      { script: 'missing.sh', hostname: 'node-3', env: {} },
    ).catch((error: unknown) => error)) as ReadyScriptFailed;

    expect(failure.exitCode).toBe(127);
    expect(failure.lastLines.join('\n')).toMatch(/missing\.sh/);
  });

  it('a script that hangs is given up after its time limit', async () => {
    const key = makeKey();
    const server = await serverFor(key);
    server.installScript('hang.sh', '#!/bin/sh\necho started\nsleep 30\n');

    const failure = (await runReadyScript(
      { host: server.host, port: server.port, username: 'jenkins', privateKey: key.private },
      { script: 'hang.sh', hostname: 'node-4', env: {}, timeoutMs: 500 },
    ).catch((error: unknown) => error)) as ReadyScriptFailed;

    expect(failure).toBeInstanceOf(ReadyScriptFailed);
    expect(failure.message).toMatch(/did not finish within 1 s; last output:\nstarted$/);
  });
});

describe('shell quoting of the ready-script command', () => {
  it('leaves plain words alone and single-quotes the rest', () => {
    expect(shellQuote('ready.sh')).toBe('ready.sh');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('a b')).toBe("'a b'");
  });

  it('refuses a variable name that cannot be a shell identifier', () => {
    expect(() => readyScriptCommand({ directory: '/d', script: 's', hostname: 'h', env: { 'X; rm -rf /': '1' } })).toThrow(RangeError);
  });

  it('passes on only the NODEPOOL_ variables of the daemon environment', () => {
    expect(nodepoolEnvironment({ NODEPOOL_A: '1', PATH: '/bin', NODEPOOLX: '2', NODEPOOL_B: '' })).toEqual({ NODEPOOL_A: '1', NODEPOOL_B: '' });
  });
});
