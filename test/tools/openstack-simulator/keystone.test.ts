import { describe, expect, it } from 'vitest';
import { authenticate, call, Client, clockedSimulator, passwordAuth, simulator } from './helpers.js';

describe('Keystone v3 of the OpenStack simulator', () => {
  it('a password login scoped to the project gets a token in X-Subject-Token and a catalog of every service', async () => {
    const sim = await simulator({ region: 'RegionTwo' });
    const answer = await authenticate(sim);

    expect(answer.status).toBe(201);
    expect(answer.token).toMatch(/^gAAAAA/);
    const token = answer.body.token;
    expect(token.methods).toEqual(['password']);
    expect(token.user).toMatchObject({ name: 'nodepool', domain: { id: 'default', name: 'Default' }, password_expires_at: null });
    expect(token.project).toMatchObject({ name: 'nodepool', id: sim.credentials.projectId, domain: { id: 'default', name: 'Default' } });
    expect(token.roles.map((r: { name: string }) => r.name).sort()).toEqual(['member', 'reader']);
    expect(token.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$/);
    expect(Date.parse(token.expires_at) - Date.parse(token.issued_at)).toBe(24 * 3600 * 1000);

    const urls = (type: string): Record<string, string> => {
      const entry = token.catalog.find((c: { type: string }) => c.type === type);
      return Object.fromEntries(entry.endpoints.map((e: { interface: string; url: string; region_id: string }) => {
        expect(e.region_id).toBe('RegionTwo');
        return [e.interface, e.url];
      }));
    };
    expect(urls('compute')).toEqual({ public: sim.endpoints.compute, internal: sim.endpoints.compute, admin: sim.endpoints.compute });
    expect(urls('compute').public).toMatch(/\/v2\.1$/);
    expect(urls('image').public).toBe(sim.endpoints.image);
    expect(urls('network').public).toBe(sim.endpoints.network);
    expect(urls('identity').public).toBe(sim.url);
  });

  it('accepts the user and project by id, the domain by id, and no scope at all (the default project)', async () => {
    const sim = await simulator();
    const { userId, projectId } = sim.credentials;
    const byIds = {
      auth: {
        identity: { methods: ['password'], password: { user: { id: userId, password: 'nodepool' } } },
        scope: { project: { id: projectId } },
      },
    };
    expect((await authenticate(sim, byIds)).status).toBe(201);
    expect((await authenticate(sim, passwordAuth('nodepool', 'nodepool', { name: 'nodepool', domain: { id: 'default' } }))).status).toBe(201);
    const unscoped = await authenticate(sim, passwordAuth('nodepool', 'nodepool', undefined));
    expect(unscoped.body.token.project.id).toBe(projectId);
  });

  it('an application credential logs in by id and secret, or by name and user', async () => {
    const sim = await simulator({ applicationCredentials: [{ id: 'ac-1', name: 'nodepool-ac', secret: 's3cret', user: 'nodepool' }] });
    const byId = await authenticate(sim, { auth: { identity: { methods: ['application_credential'], application_credential: { id: 'ac-1', secret: 's3cret' } } } });
    expect(byId.status).toBe(201);
    expect(byId.body.token.methods).toEqual(['application_credential']);
    expect(byId.body.token.application_credential).toEqual({ id: 'ac-1', name: 'nodepool-ac', restricted: true });
    expect(byId.body.token.project.name).toBe('nodepool');

    const byName = await authenticate(sim, {
      auth: { identity: { methods: ['application_credential'], application_credential: { name: 'nodepool-ac', secret: 's3cret', user: { name: 'nodepool', domain: { name: 'Default' } } } } },
    });
    expect(byName.status).toBe(201);
    const wrong = await authenticate(sim, { auth: { identity: { methods: ['application_credential'], application_credential: { id: 'ac-1', secret: 'nope' } } } });
    expect(wrong.status).toBe(401);
  });

  it('a wrong password, user or project is 401 with Keystone error body and WWW-Authenticate', async () => {
    const sim = await simulator();
    for (const body of [passwordAuth('nodepool', 'wrong'), passwordAuth('nobody', 'nodepool'), passwordAuth('nodepool', 'nodepool', { name: 'other', domain: { name: 'Default' } })]) {
      const answer = await authenticate(sim, body);
      expect(answer.status).toBe(401);
      expect(answer.token).toBe('');
      expect(answer.body).toEqual({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
      expect(answer.headers.get('www-authenticate')).toBe(`Keystone uri="${sim.url}"`);
    }
    const malformed = await call(`${sim.url}/auth/tokens`, { method: 'POST', json: { nothing: true } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatchObject({ code: 400, title: 'Bad Request' });
  });

  it('Nova, Glance and Neutron refuse a missing or unknown token with keystonemiddleware 401', async () => {
    const sim = await simulator();
    const urls = [`${sim.endpoints.compute}/servers/detail`, `${sim.endpoints.image}/v2/images`, `${sim.endpoints.network}/v2.0/networks`];
    for (const url of urls) {
      for (const headers of [{}, { 'x-auth-token': 'gAAAAAnot-a-token' }] as Array<Record<string, string>>) {
        const answer = await call(url, { headers });
        expect(answer.status, url).toBe(401);
        expect(answer.body).toEqual({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
        expect(answer.headers.get('www-authenticate')).toBe(`Keystone uri="${sim.url}"`);
      }
    }
    expect(sim.calls('GET /compute/v2.1/servers/detail')).toBe(2);
  });

  it('a token stops working when its lifetime is over, and a new login works again', async () => {
    const { sim, clock } = await clockedSimulator({ tokenLifetimeSeconds: 60 });
    const client = await Client.login(sim);
    expect((await client.compute('GET', '/flavors/detail')).status).toBe(200);
    clock.increment(59_999);
    expect((await client.compute('GET', '/flavors/detail')).status).toBe(200);
    clock.increment(1);
    expect((await client.compute('GET', '/flavors/detail')).status).toBe(401);
    client.token = (await authenticate(sim)).token;
    expect((await client.compute('GET', '/flavors/detail')).status).toBe(200);

    sim.setTokenLifetime(5);
    const short = await authenticate(sim);
    expect(Date.parse(short.body.token.expires_at) - Date.parse(short.body.token.issued_at)).toBe(5000);
  });

  it('revokeAllTokens makes every client re-authenticate; GET validates and DELETE revokes a token', async () => {
    const sim = await simulator();
    const client = await Client.login(sim);
    const other = await authenticate(sim);
    const check = await call(`${sim.url}/auth/tokens`, { headers: { 'x-auth-token': client.token, 'x-subject-token': other.token } });
    expect(check.status).toBe(200);
    expect(check.body.token.user.name).toBe('nodepool');
    const revoke = await call(`${sim.url}/auth/tokens`, { method: 'DELETE', headers: { 'x-auth-token': client.token, 'x-subject-token': other.token } });
    expect(revoke.status).toBe(204);
    expect((await call(`${sim.endpoints.network}/v2.0/networks`, { headers: { 'x-auth-token': other.token } })).status).toBe(401);

    sim.revokeAllTokens();
    expect((await client.network('GET', '/v2.0/networks')).status).toBe(401);
  });

  it('publishes the identity version documents without a token', async () => {
    const sim = await simulator();
    const version = await call(sim.url);
    expect(version.status).toBe(200);
    expect(version.body.version).toMatchObject({ id: 'v3.14', status: 'stable' });
    const versions = await call(sim.url.replace(/\/v3$/, ''));
    expect(versions.status).toBe(300);
    expect(versions.body.versions.values[0].id).toBe('v3.14');
  });
});
