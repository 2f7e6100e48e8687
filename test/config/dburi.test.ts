import { describe, expect, it } from 'vitest';
import { redactDbUri, resolveDbUri } from '../../src/config/index.js';

const env = { NODEPOOL_DBURI: 'sqlite:///from/env.db' };
const secure = { dburi: 'mysql://np:pw@secure/np', jenkins: {} };
const config = { dburi: 'sqlite:///from/yaml.db' };

describe('which database URI is used', () => {
  it('the environment wins over the secure file and nodepool.yaml', () => {
    expect(resolveDbUri({ env, secure, config })).toEqual({ uri: 'sqlite:///from/env.db', source: 'environment' });
  });

  it('the secure file wins over nodepool.yaml', () => {
    expect(resolveDbUri({ env: {}, secure, config })).toEqual({ uri: 'mysql://np:pw@secure/np', source: 'secure file' });
  });

  it('nodepool.yaml is used when nothing else names a database', () => {
    expect(resolveDbUri({ env: {}, secure: { jenkins: {} }, config })).toEqual({ uri: 'sqlite:///from/yaml.db', source: 'nodepool.yaml' });
  });

  it('the environment wins over nodepool.yaml without a secure file', () => {
    expect(resolveDbUri({ env, config })).toEqual({ uri: 'sqlite:///from/env.db', source: 'environment' });
  });

  it('an empty environment variable does not count', () => {
    expect(resolveDbUri({ env: { NODEPOOL_DBURI: '  ' }, config })?.source).toBe('nodepool.yaml');
  });

  it('nothing configured gives undefined', () => {
    expect(resolveDbUri({ env: {} })).toBeUndefined();
  });
});

describe('redactDbUri', () => {
  it.each([
    ['mysql://nodepool:s3cret@127.0.0.1/nodepool', 'mysql://nodepool:***@127.0.0.1/nodepool'],
    ['mysql+pymysql://np:p@ss/w0rd@db:3306/np?charset=utf8', 'mysql+pymysql://np:***@db:3306/np?charset=utf8'],
    ['mysql://np@db/np', 'mysql://np@db/np'],
    ['mysql://db:3306/np', 'mysql://db:3306/np'],
    ['sqlite:///var/lib/nodepool/nodepool.db', 'sqlite:///var/lib/nodepool/nodepool.db'],
    ['mysql://db/np?user=np&password=hunter2', 'mysql://db/np?user=np&password=***'],
  ])('%s -> %s', (uri, shown) => {
    expect(redactDbUri(uri)).toBe(shown);
  });
});
