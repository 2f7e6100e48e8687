import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { Provider } from '../../src/config/types.js';
import { createDriver, DriverUnavailable } from '../../src/drivers/factory.js';
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

  it('says clearly that the openstack driver is not available yet', () => {
    const provider: Provider = { ...fakeProvider(), driver: 'openstack' };
    expect(() => createDriver(provider)).toThrow(DriverUnavailable);
    expect(() => createDriver(provider)).toThrow('driver openstack is not available yet');
  });
});
