import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { JenkinsClient, JenkinsError, isRetryable, type CreateNodeRequest, type JenkinsClientOptions } from '../../src/targets/jenkins-client.js';
import { startJenkinsSimulator, type JenkinsSimulator, type JenkinsSimulatorOptions } from '../../src/tools/jenkins-simulator/index.js';

const CRUMB = 'GET /crumbIssuer/api/json';
const CREATE = 'POST /computer/doCreateItem';
const INFO = 'GET /computer/{name}/api/json';
const DELETE = 'POST /computer/{name}/doDelete';
const BUILD = 'POST /job/{name}/buildWithParameters';

const opened: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.close()));
});

async function jenkins(options: JenkinsSimulatorOptions = {}): Promise<JenkinsSimulator> {
  const sim = await startJenkinsSimulator({ jobs: [{ name: 'node-test', parameters: { NODE: '' } }], ...options });
  opened.push(sim);
  return sim;
}

function clientOf(sim: JenkinsSimulator, options: Partial<JenkinsClientOptions> = {}): JenkinsClient {
  const client = new JenkinsClient({ url: sim.url, user: sim.credentials.user, apikey: sim.credentials.apiToken, ...options });
  opened.push(client);
  return client;
}

function node(name: string, extra: Partial<CreateNodeRequest> = {}): CreateNodeRequest {
  return {
    name, host: '203.0.113.10', description: 'Dynamic single use ubuntu node', executors: 1, remoteRoot: '/home/jenkins',
    labels: ['ubuntu'], credentialsId: 'nodepool-ssh', ...extra,
  };
}

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<JenkinsError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(JenkinsError);
  return error as JenkinsError;
}

describe('the Jenkins client of a target', () => {
  it('registers a ready node as an SSH agent with exactly the fields given (credentials id)', async () => {
    const sim = await jenkins();
    expect(await clientOf(sim).createNode(node('ubuntu-rax-1'))).toBe('created');
    expect(sim.agents()).toEqual([{
      name: 'ubuntu-rax-1',
      description: 'Dynamic single use ubuntu node',
      executors: 1,
      remoteRoot: '/home/jenkins',
      labels: ['ubuntu'],
      mode: 'EXCLUSIVE',
      launcher: {
        class: 'hudson.plugins.sshslaves.SSHLauncher',
        host: '203.0.113.10',
        port: 22,
        credentialsId: 'nodepool-ssh',
        fields: { port: 22, credentialsId: 'nodepool-ssh', host: '203.0.113.10', 'stapler-class': 'hudson.plugins.sshslaves.SSHLauncher' },
      },
      retentionStrategy: 'hudson.slaves.RetentionStrategy$Always',
      online: false,
      createdAt: expect.any(Number),
    }]);
  });

  it('without a credentials id the launcher gets the user name and private key; no labels when a test job runs first', async () => {
    const sim = await jenkins();
    const client = clientOf(sim);
    await client.createNode(node('centos-hp-2', {
      credentialsId: undefined, username: 'jenkins', privateKey: '/var/lib/jenkins/.ssh/id_rsa', labels: [], executors: 2,
      remoteRoot: '/opt/jenkins', description: 'Dynamic single use centos node',
    }));
    const agent = sim.agent('centos-hp-2');
    expect(agent).toMatchObject({ description: 'Dynamic single use centos node', executors: 2, remoteRoot: '/opt/jenkins', labels: [] });
    expect(agent?.launcher).toEqual({
      class: 'hudson.plugins.sshslaves.SSHLauncher', host: '203.0.113.10', port: 22, username: 'jenkins', privateKey: '/var/lib/jenkins/.ssh/id_rsa',
      fields: { port: 22, username: 'jenkins', privatekey: '/var/lib/jenkins/.ssh/id_rsa', host: '203.0.113.10', 'stapler-class': 'hudson.plugins.sshslaves.SSHLauncher' },
    });
    await expect(client.createNode(node('x', { credentialsId: undefined }))).rejects.toThrow(TypeError);
  });

  it('an agent already there counts as created (a repeated create after a lost answer)', async () => {
    const sim = await jenkins();
    const client = clientOf(sim);
    await client.createNode(node('n1'));
    expect(await client.createNode(node('n1', { description: 'something else' }))).toBe('existed');
    expect(sim.agent('n1')?.description).toBe('Dynamic single use ubuntu node');
  });

  it('tells whether an agent exists, and deletes it; an agent already gone counts as deleted', async () => {
    const sim = await jenkins({ agents: [{ name: 'n1' }] });
    const client = clientOf(sim);
    expect(await client.nodeExists('n1')).toBe(true);
    expect(await client.deleteNode('n1')).toBe('deleted');
    expect(sim.agents()).toEqual([]);
    expect(await client.nodeExists('n1')).toBe(false);
    expect(await client.deleteNode('n1')).toBe('absent');
    expect(await client.deleteNode('never-there')).toBe('absent');
    expect(sim.calls(DELETE)).toBe(3);
  });

  it("starts the target's test job on the node and returns its queue item", async () => {
    const sim = await jenkins();
    const client = clientOf(sim);
    expect(await client.buildJob('node-test', { NODE: 'ubuntu-rax-1' })).toBe(1);
    expect(await client.buildJob('node-test', { NODE: 'ubuntu-rax-2' })).toBe(2);
    // The identical request again (an answer lost on the way): Jenkins points at the waiting item.
    expect(await client.buildJob('node-test', { NODE: 'ubuntu-rax-2' })).toBe(2);
    expect(sim.builds('node-test').map((b) => [b.queueId, b.parameters])).toEqual([[1, { NODE: 'ubuntu-rax-1' }], [2, { NODE: 'ubuntu-rax-2' }]]);
  });

  describe('crumbs', () => {
    it('fetches the crumb once and sends it with every POST', async () => {
      const sim = await jenkins();
      const client = clientOf(sim);
      await client.createNode(node('n1'));
      await client.deleteNode('n1');
      await client.buildJob('node-test', { NODE: 'n1' });
      expect(sim.counters()).toEqual({ [CRUMB]: 1, [CREATE]: 1, [DELETE]: 1, [BUILD]: 1 });
    });

    it('a GET needs no crumb', async () => {
      const sim = await jenkins({ agents: [{ name: 'n1' }] });
      expect(await clientOf(sim).nodeExists('n1')).toBe(true);
      expect(sim.counters()).toEqual({ [INFO]: 1 });
    });

    it('uses the field the issuer names', async () => {
      const sim = await jenkins({ crumbRequestField: '.crumb' });
      expect(await clientOf(sim).createNode(node('n1'))).toBe('created');
    });

    it('with CSRF protection off, asks once, learns there is none, and posts without', async () => {
      const sim = await jenkins({ crumbs: false });
      const client = clientOf(sim);
      await client.createNode(node('n1'));
      await client.createNode(node('n2'));
      expect(sim.counters()).toEqual({ [CRUMB]: 1, [CREATE]: 2 });
      expect(sim.requests().map((r) => r.status)).toEqual([404, 302, 302]);
    });

    it('an expired crumb is refetched once and the POST sent again', async () => {
      const sim = await jenkins();
      const client = clientOf(sim);
      await client.createNode(node('n1'));
      sim.expireCrumbs();
      expect(await client.deleteNode('n1')).toBe('deleted');
      expect(sim.requests().map((r) => `${r.route} ${r.status}`)).toEqual([
        `${CRUMB} 200`, `${CREATE} 302`, `${DELETE} 403`, `${CRUMB} 200`, `${DELETE} 302`,
      ]);
    });

    it('crumbs turned on after the client learnt there were none: one refetch', async () => {
      const sim = await jenkins({ crumbs: false });
      const client = clientOf(sim);
      await client.createNode(node('n1'));
      sim.setCrumbs(true);
      expect(await client.createNode(node('n2'))).toBe('created');
      expect(sim.counters()).toEqual({ [CRUMB]: 2, [CREATE]: 3 });
    });

    it('a 403 that a fresh crumb does not cure is reported, not retried again', async () => {
      const sim = await jenkins();
      const client = clientOf(sim);
      sim.failNext(2, 403, CREATE);
      const error = await failure(client.createNode(node('n1')));
      expect(error).toMatchObject({ status: 403, retryable: false, operation: 'createNode', subject: 'n1' });
      expect(error.message).toContain('refused even with a fresh crumb');
      expect(sim.counters()).toEqual({ [CRUMB]: 2, [CREATE]: 2 });
    });
  });

  describe('failures', () => {
    it('wrong credentials: 401, not retryable, with the URL, operation and status in the message', async () => {
      const sim = await jenkins({ agents: [{ name: 'n1' }] });
      const client = clientOf(sim, { apikey: 'wrong' });
      const info = await failure(client.nodeExists('n1'));
      expect(info).toMatchObject({ status: 401, retryable: false, url: sim.url, operation: 'nodeExists', subject: 'n1' });
      expect(info.message).toBe(
        `Jenkins ${sim.url}: nodeExists 'n1': HTTP 401: Invalid password/token for user: nodepool (the user or API token was refused) (not retryable)`,
      );
      const create = await failure(client.createNode(node('n2')));
      expect(create.message).toContain("createNode 'n2': fetching a crumb: HTTP 401");
      expect(isRetryable(create)).toBe(false);
      expect(sim.agents().map((a) => a.name)).toEqual(['n1']);
    });

    it('a 500 is reported as retryable, and the same call works once Jenkins recovers', async () => {
      const sim = await jenkins({ agents: [{ name: 'n1' }] });
      const client = clientOf(sim);
      sim.failNext(1, 500, DELETE);
      const error = await failure(client.deleteNode('n1'));
      expect(error).toMatchObject({ status: 500, retryable: true, operation: 'deleteNode' });
      expect(error.message).toBe(`Jenkins ${sim.url}: deleteNode 'n1': HTTP 500: Internal Server Error (retryable)`);
      expect(sim.agent('n1')).toBeDefined();
      expect(await client.deleteNode('n1')).toBe('deleted');
    });

    it('a 503 while fetching the crumb, and a 500 on node info, are retryable: nodeExists never guesses', async () => {
      const sim = await jenkins({ agents: [{ name: 'n1' }] });
      const client = clientOf(sim);
      sim.failNext(1, 503, CRUMB);
      expect(await failure(client.buildJob('node-test', { NODE: 'n1' }))).toMatchObject({ status: 503, retryable: true, operation: 'buildJob' });
      sim.failNext(1, 500, INFO);
      expect(await failure(client.nodeExists('n1'))).toMatchObject({ status: 500, retryable: true });
      expect(sim.builds('node-test')).toEqual([]);
    });

    it('connection refused is retryable; the client works again when Jenkins is back', async () => {
      const sim = await jenkins({ agents: [{ name: 'n1' }] });
      const client = clientOf(sim);
      await sim.down();
      const error = await failure(client.nodeExists('n1'));
      expect(error).toMatchObject({ retryable: true, status: undefined });
      expect(error.message).toBe(`Jenkins ${sim.url}: nodeExists 'n1': GET computer/n1/api/json: connection refused (retryable)`);
      await sim.up();
      expect(await client.nodeExists('n1')).toBe(true);
    });

    it('no answer within the timeout, or a dropped connection, is retryable', async () => {
      const sim = await jenkins({ agents: [{ name: 'n1' }] });
      const client = clientOf(sim, { timeoutMs: 150 });
      sim.failNext(1, 'hang', INFO);
      const late = await failure(client.nodeExists('n1'));
      expect(late).toMatchObject({ retryable: true, status: undefined });
      expect(late.message).toContain('no answer within 150 ms');
      sim.failNext(1, 'reset', DELETE);
      expect(await failure(client.deleteNode('n1'))).toMatchObject({ retryable: true, status: undefined });
      expect(await client.deleteNode('n1')).toBe('deleted');
    });

    it('a job that does not exist, or is not parameterized, is not retryable', async () => {
      const sim = await jenkins({ jobs: [{ name: 'plain' }] });
      const client = clientOf(sim);
      const missing = await failure(client.buildJob('no-such-job', { NODE: 'n1' }));
      expect(missing).toMatchObject({ status: 404, retryable: false, subject: 'no-such-job' });
      const plain = await failure(client.buildJob('plain', { NODE: 'n1' }));
      expect(plain).toMatchObject({ status: 400, retryable: false });
      expect(plain.message).toContain('plain is not parameterized');
    });

    it('a name Jenkins refuses is a 400 naming the reason', async () => {
      const sim = await jenkins();
      const error = await failure(clientOf(sim).createNode(node('bad/name')));
      expect(error).toMatchObject({ status: 400, retryable: false });
      expect(error.message).toContain('?/? is an unsafe character');
    });
  });

  it('takes a URL without the trailing slash, and a Jenkins under a context path', async () => {
    const sim = await jenkins({ contextPath: '/ci' });
    const client = clientOf(sim, { url: sim.url.replace(/\/$/, '') });
    expect(client.url).toBe(sim.url);
    await client.createNode(node('n1'));
    expect(await client.nodeExists('n1')).toBe(true);
    expect(await client.buildJob('node-test', { NODE: 'n1' })).toBe(1);
  });

  it('logs each call at debug level, never the API token', async () => {
    const sim = await jenkins();
    const lines: string[] = [];
    const sink = new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(chunk.toString()); done(); } });
    const client = clientOf(sim, { log: pino({ level: 'debug' }, sink) });
    await client.createNode(node('n1'));
    const calls = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(calls.map((c) => [c.operation, c.method, c.path, c.status])).toEqual([
      ['createNode', 'GET', 'crumbIssuer/api/json', 200], ['createNode', 'POST', 'computer/doCreateItem', 302],
    ]);
    expect(lines.join('')).not.toContain(sim.credentials.apiToken);
  });
});
