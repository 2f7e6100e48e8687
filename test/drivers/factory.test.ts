import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { Provider } from '../../src/config/types.js';
import { DriverError } from '../../src/drivers/driver.js';
import { createDriver } from '../../src/drivers/factory.js';
import { OpenStackDriver } from '../../src/drivers/openstack/index.js';
import { FakeDriver } from '../../src/drivers/fake/index.js';
import { minimalConfig, tempDir, writeConfigFile } from '../support/config-files.js';

function fakeProvider(): Provider {
  const provider = loadConfig(writeConfigFile(tempDir(), minimalConfig())).config?.providers[0];
  if (!provider) throw new Error('the minimal configuration has a provider');
  return provider;
}

describe('createDriver', () => {
  it('gives a fake provider the simulated cloud', async () => {
    const driver = createDriver(fakeProvider());
    expect(driver).toBeInstanceOf(FakeDriver);
    await driver.close();
  });

  it('gives an openstack provider with inline credentials the OpenStack driver', async () => {
    const provider: Provider = {
      ...fakeProvider(), driver: 'openstack', username: 'nodepool', password: 'secret', projectName: 'nodepool', authUrl: 'http://127.0.0.1:5000',
    };
    const driver = createDriver(provider);
    expect(driver).toBeInstanceOf(OpenStackDriver);
    await driver.close();
  });

  it('refuses an openstack provider without credentials, saying what to set', () => {
    const provider: Provider = { ...fakeProvider(), driver: 'openstack' };
    expect(() => createDriver(provider)).toThrow(DriverError);
    expect(() => createDriver(provider)).toThrow('provider fake-a: no credentials: set `cloud:` (an entry of clouds.yaml) or username, password, project and auth-url');
  });
});
