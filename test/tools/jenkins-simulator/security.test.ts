import { describe, expect, it } from 'vitest';
import { call, createForm, post, simulator } from './helpers.js';

describe('crumbs and basic auth of the Jenkins simulator', () => {
  it('issues a crumb per user and wants it on every POST', async () => {
    const sim = await simulator({ users: [{ name: 'nodepool', apiToken: 't1' }, { name: 'other', apiToken: 't2' }] });
    const issued = await call(sim, 'GET', 'crumbIssuer/api/json');
    expect(issued.status).toBe(200);
    expect(issued.body).toEqual({ _class: 'hudson.security.csrf.DefaultCrumbIssuer', crumb: sim.crumb(), crumbRequestField: 'Jenkins-Crumb' });
    expect(sim.crumb('other')).not.toBe(sim.crumb('nodepool'));

    const without = await call(sim, 'POST', 'computer/doCreateItem', { form: createForm('n') });
    expect(without.status).toBe(403);
    expect(without.text).toContain('No valid crumb was included in the request');
    const othersCrumb = await call(sim, 'POST', 'computer/doCreateItem', { form: createForm('n'), crumb: ['Jenkins-Crumb', sim.crumb('other')] });
    expect(othersCrumb.status).toBe(403);
    expect(sim.agents()).toEqual([]);

    expect((await call(sim, 'POST', 'computer/doCreateItem', { form: createForm('n'), crumb: ['Jenkins-Crumb', issued.body.crumb] })).status).toBe(302);
    // CrumbFilter also reads the crumb from a form field of the same name.
    expect((await call(sim, 'POST', 'computer/doCreateItem', { form: { ...createForm('m'), 'Jenkins-Crumb': sim.crumb() } })).status).toBe(302);
  });

  it('refuses every crumb handed out before the crumbs expire', async () => {
    const sim = await simulator({ agents: [{ name: 'n' }] });
    const old = sim.crumb();
    sim.expireCrumbs();
    expect(sim.crumb()).not.toBe(old);
    expect((await call(sim, 'POST', 'computer/n/doDelete', { crumb: ['Jenkins-Crumb', old] })).status).toBe(403);
    expect((await post(sim, 'computer/n/doDelete')).status).toBe(302);
  });

  it('without CSRF protection the issuer is 404 and a POST needs no crumb', async () => {
    const sim = await simulator({ crumbs: false, agents: [{ name: 'n' }] });
    expect((await call(sim, 'GET', 'crumbIssuer/api/json')).status).toBe(404);
    expect((await call(sim, 'POST', 'computer/n/doDelete')).status).toBe(302);
    sim.setCrumbs(true);
    expect((await call(sim, 'GET', 'crumbIssuer/api/json')).status).toBe(200);
    expect((await call(sim, 'POST', 'computer/doCreateItem', { form: createForm('m') })).status).toBe(403);
  });

  it('uses the configured crumb field, and lets API tokens through without a crumb when told (Jenkins 2.96+)', async () => {
    const dotted = await simulator({ crumbRequestField: '.crumb' });
    expect((await call(dotted, 'GET', 'crumbIssuer/api/json')).body.crumbRequestField).toBe('.crumb');
    expect((await call(dotted, 'POST', 'computer/doCreateItem', { form: createForm('n'), crumb: ['.crumb', dotted.crumb()] })).status).toBe(302);

    const modern = await simulator({ apiTokenSkipsCrumb: true });
    expect((await call(modern, 'POST', 'computer/doCreateItem', { form: createForm('n') })).status).toBe(302);
  });

  it('answers wrong credentials with 401 and a Basic challenge, before anything else', async () => {
    const sim = await simulator();
    for (const [method, path] of [['GET', 'crumbIssuer/api/json'], ['GET', 'computer/x/api/json'], ['POST', 'computer/doCreateItem']] as const) {
      const refused = await call(sim, method, path, { auth: ['nodepool', 'wrong-token'] });
      expect(refused.status).toBe(401);
      expect(refused.headers['www-authenticate']).toBe('Basic realm="Jenkins"');
      expect(refused.text).toContain('Invalid password/token for user: nodepool');
    }
    expect((await call(sim, 'GET', 'computer/x/api/json', { auth: ['nobody', 'nodepool-api-token'] })).status).toBe(401);
    expect(sim.requests().map((r) => r.status)).toEqual([401, 401, 401, 401]);
  });

  it('turns anonymous callers away with 403, as a Jenkins whose anonymous user may not read', async () => {
    const sim = await simulator({ agents: [{ name: 'n' }] });
    const anonymous = await call(sim, 'GET', 'computer/n/api/json', { auth: null });
    expect(anonymous.status).toBe(403);
    expect(anonymous.headers['x-you-are-authenticated-as']).toBe('anonymous');
    expect((await call(sim, 'GET', 'crumbIssuer/api/json', { auth: null })).status).toBe(403);
  });
});
