import { describe, expect, it } from 'vitest';
import { agentJson, call, createForm, post, simulator } from './helpers.js';

describe('agents of the Jenkins simulator', () => {
  it('creates an agent from the form python-jenkins posts and stores exactly what it said', async () => {
    const sim = await simulator();
    const created = await post(sim, 'computer/doCreateItem', { form: createForm('ubuntu-rax-1') });
    expect(created.status).toBe(302);
    expect(created.headers.location).toBe(`${sim.url}computer/`);
    expect(sim.agents()).toEqual([{
      name: 'ubuntu-rax-1',
      description: 'Dynamic single use ubuntu node',
      executors: 1,
      remoteRoot: '/home/jenkins',
      labels: ['ubuntu'],
      mode: 'EXCLUSIVE',
      launcher: {
        class: 'hudson.plugins.sshslaves.SSHLauncher',
        host: '203.0.113.7',
        port: 22,
        credentialsId: 'nodepool-ssh',
        fields: { port: 22, credentialsId: 'nodepool-ssh', host: '203.0.113.7', 'stapler-class': 'hudson.plugins.sshslaves.SSHLauncher' },
      },
      retentionStrategy: 'hudson.slaves.RetentionStrategy$Always',
      online: false,
      createdAt: expect.any(Number),
    }]);
  });

  it('takes the fields from the query string too, as python-jenkins 0.4 sent them with an empty body', async () => {
    const sim = await simulator();
    const query = new URLSearchParams(createForm('old-style', {
      labelString: null,
      launcher: { port: 22, username: 'jenkins', privatekey: '/var/lib/jenkins/.ssh/id_rsa', host: '203.0.113.8', 'stapler-class': 'hudson.plugins.sshslaves.SSHLauncher' },
    }));
    const created = await post(sim, `computer/doCreateItem?${query.toString()}`);
    expect(created.status).toBe(302);
    const agent = sim.agent('old-style');
    expect(agent?.labels).toEqual([]);
    expect(agent?.launcher).toMatchObject({ username: 'jenkins', privateKey: '/var/lib/jenkins/.ssh/id_rsa', host: '203.0.113.8' });
    expect(agent?.launcher.credentialsId).toBeUndefined();
  });

  it('answers node info as a SlaveComputer at depth 0, and 404 for an agent it does not have', async () => {
    const sim = await simulator();
    await post(sim, 'computer/doCreateItem', { form: createForm('n1', { numExecutors: 2 }) });
    const info = await call(sim, 'GET', 'computer/n1/api/json?depth=0');
    expect(info.status).toBe(200);
    expect(info.headers['content-type']).toMatch(/^application\/json/);
    expect(info.body).toMatchObject({
      _class: 'hudson.slaves.SlaveComputer',
      displayName: 'n1',
      description: 'Dynamic single use ubuntu node',
      numExecutors: 2,
      executors: [{}, {}],
      offline: true,
      temporarilyOffline: false,
      assignedLabels: [{ name: 'ubuntu' }, { name: 'n1' }],
    });
    sim.setOnline('n1', true);
    expect((await call(sim, 'GET', 'computer/n1/api/json')).body).toMatchObject({ offline: false, absoluteRemotePath: '/home/jenkins' });
    const missing = await call(sim, 'GET', 'computer/nope/api/json?depth=0');
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('HTTP ERROR 404');
  });

  it('lists the agents at computer/api/json', async () => {
    const sim = await simulator({ agents: [{ name: 'a' }, { name: 'b', executors: 3 }] });
    const list = await call(sim, 'GET', 'computer/api/json');
    expect(list.body.computer.map((c: { displayName: string }) => c.displayName)).toEqual(['a', 'b']);
    expect(list.body.totalExecutors).toBe(4);
    expect((await call(sim, 'GET', 'computer/')).status).toBe(200);
  });

  it('refuses a second agent of the same name with Jenkins error page and X-Error', async () => {
    const sim = await simulator();
    await post(sim, 'computer/doCreateItem', { form: createForm('dup') });
    const again = await post(sim, 'computer/doCreateItem', { form: createForm('dup', { nodeDescription: 'other' }) });
    expect(again.status).toBe(400);
    expect(again.headers['x-error']).toBe('Agent called ?dup? already exists');
    expect(again.text).toContain('Agent called ‘dup’ already exists');
    expect(sim.agent('dup')?.description).toBe('Dynamic single use ubuntu node');
  });

  it('checks the name, the form, the type and the executors as Jenkins does', async () => {
    const sim = await simulator();
    const create = (form: Record<string, string>) => post(sim, 'computer/doCreateItem', { form });
    const noName = await create({ type: 'hudson.slaves.DumbSlave$DescriptorImpl', json: JSON.stringify(agentJson('x')) });
    expect([noName.status, noName.headers['x-error']]).toEqual([400, "Query parameter 'name' is required"]);
    expect((await create(createForm('a/b'))).headers['x-error']).toBe('?/? is an unsafe character');
    expect((await create(createForm('trailing.'))).headers['x-error']).toBe('A name cannot end with ?.?');
    const noJson = await create({ name: 'x', type: 'hudson.slaves.DumbSlave$DescriptorImpl' });
    expect([noJson.status, noJson.text.includes('This page expects a form submission')]).toEqual([400, true]);
    expect((await create({ ...createForm('x'), type: 'hudson.slaves.NoSuchSlave' })).status).toBe(500);
    const zero = await create(createForm('x', { numExecutors: 0 }));
    expect([zero.status, zero.headers['x-error']]).toEqual([400, 'Invalid agent configuration for x. Invalid number of executors.']);
    expect(sim.agents()).toEqual([]);
  });

  it('deletes an agent with a POST to doDelete; a GET is 405 and an unknown agent 404', async () => {
    const sim = await simulator({ agents: [{ name: 'gone-soon' }] });
    expect((await call(sim, 'GET', 'computer/gone-soon/doDelete')).status).toBe(405);
    expect(sim.agent('gone-soon')).toBeDefined();
    const deleted = await post(sim, 'computer/gone-soon/doDelete');
    expect([deleted.status, deleted.headers.location]).toEqual([302, `${sim.url}computer/`]);
    expect(sim.agents()).toEqual([]);
    expect((await post(sim, 'computer/gone-soon/doDelete')).status).toBe(404);
  });

  it('decodes names in the path', async () => {
    const sim = await simulator({ agents: [{ name: 'with space' }] });
    expect((await call(sim, 'GET', 'computer/with%20space/api/json')).body.displayName).toBe('with space');
  });
});
