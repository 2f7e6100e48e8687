import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Provider } from '../../../src/config/types.js';
import { DriverError } from '../../../src/drivers/driver.js';
import { authRequest, cloudMessage, connectionFor, identityV3Url, serverAddresses } from '../../../src/drivers/openstack/index.js';
import { tempDir } from '../../support/config-files.js';

function provider(extra: Partial<Provider> = {}): Provider {
  return {
    name: 'cloud-a', driver: 'openstack', maxServers: 5, rate: 1, availabilityZones: [], bootTimeout: 60, launchTimeout: 3600,
    networks: [], ipv6Preferred: false, templateHostname: 't', imageType: 'qcow2', cleanFloatingIps: false, images: [], ...extra,
  };
}

/** A clouds.yaml in a temporary directory, found the way the clients find it (OS_CLIENT_CONFIG_FILE). */
function cloudsYaml(text: string) {
  const dir = tempDir();
  const file = join(dir, 'clouds.yaml');
  writeFileSync(file, text);
  return { file, lookup: { env: { OS_CLIENT_CONFIG_FILE: file }, cwd: dir, homeDir: dir, systemDir: dir } };
}

describe('OpenStack connection settings', () => {
  it('reads a password cloud from clouds.yaml: auth, domains, region, interface, api-timeout', () => {
    const { file, lookup } = cloudsYaml(`clouds:
  local:
    auth:
      auth_url: http://127.0.0.1:5000
      username: nodepool
      password: secret
      project_name: ci
      user_domain_name: Users
      project_domain_name: Projects
    region_name: RegionOne
    interface: internal
    identity_api_version: 3
`);
    const c = connectionFor(provider({ cloud: 'local', apiTimeout: 30 }), lookup);
    expect(c).toMatchObject({
      authUrl: 'http://127.0.0.1:5000/v3',
      method: { kind: 'password', username: 'nodepool', password: 'secret', userDomainName: 'Users' },
      scope: { projectName: 'ci', projectDomainName: 'Projects' },
      regionName: 'RegionOne',
      interface: 'internal',
      verify: true,
      apiTimeoutMs: 30_000,
      source: `${file} (cloud local)`,
    });
    expect(authRequest(c)).toEqual({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'nodepool', domain: { name: 'Users' }, password: 'secret' } } },
        scope: { project: { name: 'ci', domain: { name: 'Projects' } } },
      },
    });
  });

  it('reads an application credential, which carries its own project', () => {
    const { lookup } = cloudsYaml(`clouds:
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example.test:5000/v3/
      application_credential_id: 0123abc
      application_credential_secret: s3cret
    verify: false
`);
    const c = connectionFor(provider({ cloud: 'appcred', regionName: 'East' }), lookup);
    expect(c).toMatchObject({ authUrl: 'https://keystone.example.test:5000/v3', regionName: 'East', verify: false });
    expect(authRequest(c)).toEqual({
      auth: { identity: { methods: ['application_credential'], application_credential: { id: '0123abc', secret: 's3cret' } } },
    });
  });

  it('takes the 0.4 inline keys, in the Default domain', () => {
    const c = connectionFor(provider({ username: 'u', password: 'p', projectId: 'abc123', authUrl: 'http://127.0.0.1:5000/v2.0' }));
    expect(c.authUrl).toBe('http://127.0.0.1:5000/v3');
    expect(authRequest(c)).toEqual({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'u', domain: { name: 'Default' }, password: 'p' } } },
        scope: { project: { id: 'abc123' } },
      },
    });
  });

  it('refuses what cannot work, naming the provider, the file and the cloud', () => {
    const { file, lookup } = cloudsYaml(`clouds:
  v2:
    auth: {auth_url: http://x:5000/v2.0, username: u, password: p}
    identity_api_version: 2
  nourl:
    auth: {username: u, password: p}
`);
    const refusal = (p: Provider) => {
      try {
        connectionFor(p, lookup);
      } catch (err) {
        expect(err).toBeInstanceOf(DriverError);
        return (err as Error).message;
      }
      throw new Error('expected a refusal');
    };
    expect(refusal(provider({ cloud: 'missing' }))).toBe(`provider cloud-a: cloud missing is not in ${file}`);
    expect(refusal(provider({ cloud: 'v2' }))).toBe(`provider cloud-a: cloud v2 in ${file}: identity_api_version 2; only Keystone v3 is supported`);
    expect(refusal(provider({ cloud: 'nourl' }))).toBe(`provider cloud-a: cloud nourl in ${file}: auth.auth_url is missing`);
    expect(refusal(provider())).toMatch(/^provider cloud-a: no credentials/);
  });

  it('normalises the auth URL to Keystone v3', () => {
    expect(identityV3Url('http://k:5000')).toBe('http://k:5000/v3');
    expect(identityV3Url('http://k:5000/v3/')).toBe('http://k:5000/v3');
    expect(identityV3Url('http://k:5000/identity/v2.0')).toBe('http://k:5000/identity/v3');
  });
});

describe('OpenStack answers', () => {
  it("finds the cloud's message in each service's error body", () => {
    expect(cloudMessage('{"badRequest": {"code": 400, "message": "Invalid key_name provided."}}')).toBe('Invalid key_name provided.');
    expect(cloudMessage('{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}')).toBe(
      'The request you have made requires authentication.',
    );
    expect(cloudMessage('{"NeutronError": {"type": "HTTPNotFound", "message": "The resource could not be found.", "detail": ""}}')).toBe(
      'The resource could not be found.',
    );
    expect(cloudMessage('<html><body><h1>404 Not Found</h1>\nNo image found with ID x</body></html>')).toBe('404 Not Found No image found with ID x');
  });

  it('sorts addresses into public and private, floating first, and falls back to a private-only network', () => {
    expect(
      serverAddresses({
        private: [
          { version: 4, addr: '10.0.0.5', 'OS-EXT-IPS:type': 'fixed' },
          { version: 4, addr: '203.0.113.9', 'OS-EXT-IPS:type': 'floating' },
          { version: 6, addr: 'fd00::5', 'OS-EXT-IPS:type': 'fixed' },
        ],
        public: [{ version: 6, addr: '2001:db8::5', 'OS-EXT-IPS:type': 'fixed' }],
      }),
    ).toEqual({ publicV4: '203.0.113.9', publicV6: '2001:db8::5', privateV4: '10.0.0.5' });
    expect(serverAddresses({ public: [{ version: 4, addr: '127.42.0.12', 'OS-EXT-IPS:type': 'fixed' }] })).toEqual({ publicV4: '127.42.0.12' });
    expect(serverAddresses({ tenant: [{ version: 4, addr: '192.168.3.4', 'OS-EXT-IPS:type': 'fixed' }] })).toEqual({
      publicV4: '192.168.3.4',
      privateV4: '192.168.3.4',
    });
    expect(serverAddresses({})).toEqual({});
  });
});
