import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDiff, diffConfig, isEmpty } from '../../src/config/index.js';
import type { NodepoolConfig, Provider } from '../../src/config/index.js';
import { cleanTempDirs, load } from './helpers.js';

/** A loaded configuration (every default applied): two providers, two labels, two diskimages. */
let base: NodepoolConfig;

beforeAll(() => {
  const yaml = `
cron:
  cleanup: '*/1 * * * *'
diskimages:
  - name: debian
    elements: [debian-minimal, vm]
  - name: centos
providers:
  - name: east
    driver: fake
    max-servers: 5
    rate: 1
    networks: [{name: public}]
    images:
      - name: debian
        min-ram: 1024
      - name: centos
        min-ram: 2048
  - name: west
    driver: fake
    max-servers: 3
    images:
      - name: debian
        min-ram: 1024
labels:
  - name: small
    image: debian
    min-ready: 2
    providers: [{name: east}, {name: west}]
  - name: big
    image: centos
    providers: [{name: east}]
targets:
  - name: jenkins1
`;
  const { result } = load(yaml);
  if (!result.config) throw new Error(`fixture invalid: ${JSON.stringify(result.problems)}`);
  base = result.config;
});

afterAll(cleanTempDirs);

/** A copy of the base configuration changed by `edit`. */
function variant(edit: (c: NodepoolConfig) => void): NodepoolConfig {
  const copy = structuredClone(base);
  edit(copy);
  return copy;
}

function provider(c: NodepoolConfig, name: string): Provider {
  const p = c.providers.find((x) => x.name === name);
  if (!p) throw new Error(`no provider ${name}`);
  return p;
}

/** The object with its keys in reverse order, recursively. */
function reversedKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reversedKeys) as T;
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversedKeys(v)])) as T;
}

describe('diffConfig', () => {
  it('identical configs give an empty diff', () => {
    const diff = diffConfig(base, structuredClone(base));
    expect(isEmpty(diff)).toBe(true);
    expect(describeDiff(diff)).toBe('no changes');
  });

  it('key order does not matter', () => {
    expect(isEmpty(diffConfig(base, reversedKeys(base)))).toBe(true);
  });

  it('the order of named entries does not matter (providers, labels, images, a label\'s providers)', () => {
    const shuffled = variant((c) => {
      c.providers.reverse();
      c.labels.reverse();
      c.diskimages.reverse();
      provider(c, 'east').images.reverse();
      c.labels.find((l) => l.name === 'small')?.providers.reverse();
    });
    expect(isEmpty(diffConfig(base, shuffled))).toBe(true);
  });

  it('from no configuration, everything is added', () => {
    const diff = diffConfig(undefined, base);
    expect(diff.providers.added).toEqual(['east', 'west']);
    expect(diff.labels.added).toEqual(['small', 'big']);
    expect(diff.targets.added).toEqual(['jenkins1']);
    expect(diff.diskimages.added).toEqual(['debian', 'centos']);
    expect(diff.cron).toEqual(['cleanup', 'check']);
    expect(diff.providers.changed).toEqual([]);
    expect(isEmpty(diff)).toBe(false);
  });

  describe('providers', () => {
    it('a new provider is added and a dropped one removed', () => {
      const next = variant((c) => {
        c.providers = c.providers.filter((p) => p.name !== 'west');
        c.providers.push({ ...structuredClone(provider(base, 'west')), name: 'north' });
      });
      const diff = diffConfig(base, next);
      expect(diff.providers.added).toEqual(['north']);
      expect(diff.providers.removed).toEqual(['west']);
      expect(diff.providers.changed).toEqual([]);
    });

    it('a raised max-servers is a limits change, applied without a new driver', () => {
      const diff = diffConfig(base, variant((c) => { provider(c, 'east').maxServers = 10; }));
      expect(diff.providers.changed).toEqual([
        { name: 'east', fields: ['maxServers'], aspects: ['limits'], images: { added: [], removed: [], changed: [] } },
      ]);
      expect(diff.providers.retiring).toEqual([]);
    });

    it('rate and timeouts are limits too', () => {
      const diff = diffConfig(base, variant((c) => {
        const east = provider(c, 'east');
        east.rate = 2;
        east.launchTimeout = 120;
        east.bootTimeout = 30;
      }));
      expect(diff.providers.changed[0]?.fields).toEqual(['rate', 'bootTimeout', 'launchTimeout']);
      expect(diff.providers.changed[0]?.aspects).toEqual(['limits']);
    });

    it('max-servers going to -1 or 0 retires the provider', () => {
      const diff = diffConfig(base, variant((c) => {
        provider(c, 'east').maxServers = -1;
        provider(c, 'west').maxServers = 0;
      }));
      expect(diff.providers.retiring).toEqual(['east', 'west']);
      expect(diff.providers.changed.map((p) => p.aspects)).toEqual([['limits'], ['limits']]);
      expect(describeDiff(diff)).toContain('providers retiring: east, west');
    });

    it('a retired provider coming back is a limits change, not a retirement', () => {
      const retired = variant((c) => { provider(c, 'east').maxServers = 0; });
      const diff = diffConfig(retired, base);
      expect(diff.providers.retiring).toEqual([]);
      expect(diff.providers.changed.map((p) => p.name)).toEqual(['east']);
    });

    it('credentials, cloud or api-timeout need a new driver', () => {
      const diff = diffConfig(base, variant((c) => {
        provider(c, 'east').password = 'new-secret';
        provider(c, 'west').cloud = 'other';
        provider(c, 'west').apiTimeout = 30;
      }));
      expect(diff.providers.changed.map((p) => [p.name, p.aspects, p.fields])).toEqual([
        ['east', ['driver'], ['password']],
        ['west', ['driver'], ['cloud', 'apiTimeout']],
      ]);
    });

    it('images added, removed and changed are named', () => {
      const diff = diffConfig(base, variant((c) => {
        const east = provider(c, 'east');
        east.images = east.images.filter((i) => i.name !== 'centos');
        east.images.push({ ...structuredClone(east.images[0]!), name: 'fedora', diskimage: 'fedora' });
        east.images[0]!.minRam = 4096;
      }));
      const east = diff.providers.changed[0];
      expect(east?.aspects).toEqual(['images']);
      expect(east?.fields).toEqual(['images']);
      expect(east?.images).toEqual({ added: ['fedora'], removed: ['centos'], changed: [{ name: 'debian', fields: ['minRam'] }] });
    });

    it('image metadata changes are image changes', () => {
      const diff = diffConfig(base, variant((c) => { provider(c, 'west').images[0]!.meta = { team: 'infra' }; }));
      expect(diff.providers.changed[0]?.images.changed).toEqual([{ name: 'debian', fields: ['meta'] }]);
    });

    it('fake cloud settings are their own aspect', () => {
      const diff = diffConfig(base, variant((c) => {
        const fake = provider(c, 'east').fake;
        if (!fake) throw new Error('fixture: east has no fake settings');
        fake.failureRate.create = 0.5;
      }));
      expect(diff.providers.changed).toMatchObject([{ name: 'east', fields: ['fake'], aspects: ['fake'] }]);
    });

    it('launch settings (networks, keypair) change how new nodes start', () => {
      const diff = diffConfig(base, variant((c) => {
        provider(c, 'east').networks = [{ name: 'private' }];
        provider(c, 'east').keypair = 'infra';
      }));
      expect(diff.providers.changed).toMatchObject([{ name: 'east', fields: ['keypair', 'networks'], aspects: ['nodes'] }]);
    });

    it('several aspects at once are listed in a fixed order', () => {
      const diff = diffConfig(base, variant((c) => {
        const east = provider(c, 'east');
        east.images[1]!.pause = true;
        east.maxServers = 1;
        east.authUrl = 'https://keystone.example/v3';
      }));
      expect(diff.providers.changed[0]?.aspects).toEqual(['driver', 'limits', 'images']);
      expect(describeDiff(diff)).toBe('providers changed: east (driver, limits, images)');
    });
  });

  describe('labels', () => {
    it('added, removed and changed labels with the fields that moved', () => {
      const diff = diffConfig(base, variant((c) => {
        c.labels = c.labels.filter((l) => l.name !== 'big');
        c.labels.push({ name: 'multi', image: 'debian', minReady: 1, subnodes: 2, providers: [{ name: 'west' }] });
        const small = c.labels[0]!;
        small.minReady = 5;
        small.subnodes = 1;
        small.image = 'centos';
        small.providers = [{ name: 'east' }];
      }));
      expect(diff.labels).toEqual({
        added: ['multi'],
        removed: ['big'],
        changed: [{ name: 'small', fields: ['image', 'minReady', 'subnodes', 'providers'] }],
      });
    });

    it('a ready-script set on a label is a change', () => {
      const diff = diffConfig(base, variant((c) => { c.labels[1]!.readyScript = 'ready.sh'; }));
      expect(diff.labels.changed).toEqual([{ name: 'big', fields: ['readyScript'] }]);
    });
  });

  describe('targets, diskimages, cron and settings', () => {
    it('targets added, removed and changed', () => {
      const diff = diffConfig(base, variant((c) => {
        c.targets[0]!.hostname = 'ci-{label.name}-{node_id}';
        c.targets.push({ ...structuredClone(c.targets[0]!), name: 'jenkins2' });
      }));
      expect(diff.targets).toEqual({ added: ['jenkins2'], removed: [], changed: [{ name: 'jenkins1', fields: ['hostname'] }] });
    });

    it('diskimages added, removed and changed (elements order is data)', () => {
      const diff = diffConfig(base, variant((c) => {
        c.diskimages[0]!.elements.reverse();
        c.diskimages[0]!.envVars = { DIB_RELEASE: 'bookworm' };
        c.diskimages = c.diskimages.filter((d) => d.name !== 'centos');
        c.diskimages.push({ ...structuredClone(base.diskimages[1]!), name: 'fedora' });
      }));
      expect(diff.diskimages).toEqual({
        added: ['fedora'],
        removed: ['centos'],
        changed: [{ name: 'debian', fields: ['elements', 'envVars'] }],
      });
    });

    it('a changed cron line is named', () => {
      const diff = diffConfig(base, variant((c) => { c.cron.check = '*/5 * * * *'; }));
      expect(diff.cron).toEqual(['check']);
      expect(isEmpty(diff)).toBe(false);
    });

    it('other top-level settings are listed', () => {
      const diff = diffConfig(base, variant((c) => {
        c.webapp.port = 9000;
        c.zmqPublishers = ['tcp://jenkins:8888'];
        c.elementsDir = '/etc/elements';
      }));
      expect(diff.settings).toEqual(['elementsDir', 'zmqPublishers', 'webapp']);
      expect(describeDiff(diff)).toBe('settings: elementsDir, zmqPublishers, webapp');
    });

    it('an optional key absent on one side and undefined on the other is no change', () => {
      const next = variant((c) => { provider(c, 'east').keypair = undefined; });
      expect('keypair' in provider(base, 'east')).toBe(false);
      expect(isEmpty(diffConfig(base, next))).toBe(true);
    });
  });
});
