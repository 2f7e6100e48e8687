/**
 * A target's gateway against the Jenkins simulator over real HTTP: the
 * settings of nodepool.yaml and the secure file merged, the agent as
 * Nodepool 0.4 described it, calls spaced by the target's rate on the
 * injected clock, and a removal of an agent already gone.
 */
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/config/defaults.js';
import type { Target } from '../../src/config/types.js';
import { Logging } from '../../src/log/index.js';
import { jenkinsSettingsOf, TargetGateway } from '../../src/targets/index.js';
import { startJenkinsSimulator, type JenkinsSimulator } from '../../src/tools/jenkins-simulator/index.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const target = (o: Partial<Target> = {}): Target => ({ name: 'jenkins1', hostname: DEFAULTS.target.hostname, subnodeHostname: DEFAULTS.target.subnodeHostname, rate: 1, assignViaGearman: false, ...o });
const node = (name: string) => ({ name, host: '127.0.0.9', label: 'small', userHome: '/home/ci', username: 'ci', privateKey: '/var/lib/jenkins/.ssh/id_rsa' });

async function simulator(): Promise<JenkinsSimulator> {
  const sim = await startJenkinsSimulator({ jobs: [{ name: 'acceptance', parameters: { NODE: '' } }] });
  closers.push(() => sim.close());
  return sim;
}

function gateway(t: Target, sim: JenkinsSimulator, clock = new SimulatedClock()) {
  const g = new TargetGateway(t, { jenkins1: { url: sim.url, user: sim.credentials.user, apikey: sim.credentials.apiToken } }, { clock, log: new Logging().get('test') });
  closers.push(() => g.close());
  return g;
}

/** Lets the HTTP exchanges under way finish (real sockets), bounded. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}

describe('a target gateway', () => {
  it('takes the secure file’s Jenkins section over nodepool.yaml’s, and registers nothing without Jenkins settings', () => {
    const merged = jenkinsSettingsOf(target({ jenkins: { url: 'http://yaml/', user: 'y', testJob: 'acceptance', credentialsId: 'yaml-creds' } }), {
      jenkins1: { url: 'http://secure/', apikey: 'k', credentials: 'secure-creds' },
    });
    expect(merged).toEqual({ url: 'http://secure/', user: 'y', apikey: 'k', credentialsId: 'secure-creds', testJob: 'acceptance' });
    expect(jenkinsSettingsOf(target())).toBeUndefined();
  });

  it('registers a node as Nodepool 0.4 did: one executor, its label, the image’s user and key when no credentials are named', async () => {
    const sim = await simulator();
    await gateway(target(), sim).register(node('n1'));
    expect(sim.agent('n1')).toMatchObject({ description: 'Dynamic single use small node', executors: 1, remoteRoot: '/home/ci', labels: ['small'] });
    expect(JSON.stringify(sim.agent('n1')?.launcher)).toContain('/var/lib/jenkins/.ssh/id_rsa');
  });

  it('spaces its calls by the target’s rate on its clock', async () => {
    const sim = await simulator();
    const clock = new SimulatedClock();
    const g = gateway(target({ rate: 5 }), sim, clock);
    const both = Promise.all([g.register(node('a')), g.register(node('b'))]);
    await until(() => sim.agents().length === 1);
    // The second create waits its turn: nothing reaches Jenkins until 5 s have passed on the clock.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sim.agents().map((a) => a.name)).toEqual(['a']);
    clock.increment(5_000);
    await both;
    expect(sim.agents().map((a) => a.name).sort()).toEqual(['a', 'b']);
  });

  it('starts the test job on a new node with NODE=<name>, and removes agents, one already gone counting as removed', async () => {
    const sim = await simulator();
    const g = gateway(target({ rate: 0, jenkins: { testJob: 'acceptance' } }), sim);
    await g.register(node('t1'));
    expect(sim.agent('t1')?.labels).toEqual([]);
    expect(sim.builds('acceptance').map((b) => b.parameters.NODE)).toEqual(['t1']);
    await g.unregister({ name: 't1' });
    expect(sim.agent('t1')).toBeUndefined();
    await expect(g.unregister({ name: 't1' })).resolves.toBeUndefined();
  });
});
