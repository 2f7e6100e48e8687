import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { runJenkinsSimulatorProgram } from '../../../src/tools/jenkins-simulator/cli.js';

function capture(): { out: string[]; err: string[]; printed: Promise<string>; output: { out(s: string): void; err(s: string): void } } {
  const out: string[] = [];
  const err: string[] = [];
  let seen: (text: string) => void = () => undefined;
  const printed = new Promise<string>((resolve) => { seen = resolve; });
  return {
    out, err, printed,
    output: {
      out: (s) => {
        out.push(s);
        seen(out.join(''));
      },
      err: (s) => err.push(s),
    },
  };
}

describe('jenkins-simulator program', () => {
  it('prints its URL and a secure-file section that work, and stops when told', async () => {
    const { printed, output } = capture();
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => { stop = resolve; });
    const exit = runJenkinsSimulatorProgram(['--user', 'ci', '--api-token', 'tok', '--no-crumbs', '--job', 'node-test:NODE', '--target', 'jenkins1'], output, stopped);

    const banner = await printed;
    const url = /^url=(\S+)$/m.exec(banner)?.[1] ?? '';
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(banner).toContain(`[jenkins "jenkins1"]\nurl=${url}\nuser=ci\napikey=tok\n`);

    const authorization = `Basic ${Buffer.from('ci:tok').toString('base64')}`;
    const build = await request(`${url}job/node-test/buildWithParameters?NODE=n1`, { method: 'POST', headers: { authorization }, body: '' });
    await build.body.text();
    expect(build.statusCode).toBe(201);

    stop();
    expect(await exit).toBe(0);
    await expect(request(url)).rejects.toThrow();
  });

  it('a bad option is a usage error (exit 2); --help exits 0', async () => {
    const { err, output } = capture();
    expect(await runJenkinsSimulatorProgram(['--port', 'x'], output, Promise.resolve())).toBe(2);
    expect(err.join('')).toMatch(/not a valid port/);
    expect(await runJenkinsSimulatorProgram(['--help'], capture().output, Promise.resolve())).toBe(0);
  });
});
