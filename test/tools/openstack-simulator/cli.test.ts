import { describe, expect, it } from 'vitest';
import { runSimulatorProgram } from '../../../src/tools/openstack-simulator/cli.js';
import { call, passwordAuth, waitFor } from './helpers.js';

function capture(): { out: string[]; err: string[]; output: { out(s: string): void; err(s: string): void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, output: { out: (s) => out.push(s), err: (s) => err.push(s) } };
}

describe('openstack-simulator program', () => {
  it('prints the auth URL and a clouds.yaml that works, and stops when told', async () => {
    const { out, output } = capture();
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => { stop = resolve; });
    const exit = runSimulatorProgram(['--region', 'SimRegion', '--active-seconds', '0.5', '--quota-instances', '3', '--cloud-name', 'sim'], output, stopped);

    const printed = await waitFor(() => (out.join('').includes('clouds:') ? out.join('') : undefined), 5000, 'the banner');
    const authUrl = /auth URL: (\S+)/.exec(printed)?.[1] ?? '';
    expect(authUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/identity\/v3$/);
    expect(printed).toContain(`clouds:\n  sim:\n    auth:\n      auth_url: ${authUrl}\n      username: nodepool\n      password: nodepool\n      project_name: nodepool`);
    expect(printed).toContain('region_name: SimRegion');

    const login = await call(`${authUrl}/auth/tokens`, { method: 'POST', json: passwordAuth() });
    expect(login.status).toBe(201);
    const compute: string = login.body.token.catalog.find((c: { type: string }) => c.type === 'compute').endpoints[0].url;
    const limits = await call(`${compute}/limits`, { headers: { 'x-auth-token': login.headers.get('x-subject-token') ?? '' } });
    expect(limits.body.limits.absolute.maxTotalInstances).toBe(3);

    stop();
    expect(await exit).toBe(0);
    await expect(fetch(authUrl)).rejects.toThrow();
  });

  it('a bad option is a usage error (exit 2)', async () => {
    const { err, output } = capture();
    expect(await runSimulatorProgram(['--error-rate', '2'], output, Promise.resolve())).toBe(2);
    expect(err.join('')).toMatch(/not a valid probability/);
    expect(await runSimulatorProgram(['--help'], capture().output, Promise.resolve())).toBe(0);
  });
});
