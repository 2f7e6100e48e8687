import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, formatProblem, loadConfig, loadConfigOrThrow } from '../../src/config/index.js';
import { BASE, cleanTempDirs, configText, expectProblem, lineOf, load, provider, tempDir, writeFile } from './helpers.js';

afterEach(cleanTempDirs);

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('defaults', () => {
  it('a minimal file gets every default of docs/configuration.md', () => {
    const { result } = load(configText({
      providers: provider('prov', 'max-servers: 5', 'cloud: c', 'images:', '  - name: img', '    min-ram: 1024'),
    }));
    expect(result.problems).toEqual([]);
    const config = result.config!;
    expect(config.cron).toEqual({ cleanup: '27 */6 * * *', check: '*/15 * * * *' });
    expect(config.zmqPublishers).toEqual([]);
    expect(config.gearmanServers).toEqual([]);
    expect(config.webapp).toEqual({ listen: '127.0.0.1', port: 8005 });
    expect(config.labels[0]).toEqual({ name: 'lab', image: 'img', minReady: 2, subnodes: 0, providers: [{ name: 'prov' }] });
    expect(config.diskimages[0]).toEqual({
      name: 'img', elements: [], release: '', rebuildAge: 86400, envVars: {}, pause: false, dibCmd: 'disk-image-create',
    });
    expect(config.providers[0]).toEqual({
      name: 'prov', driver: 'openstack', cloud: 'c', maxServers: 5, rate: 1.0, availabilityZones: [],
      bootTimeout: 60, launchTimeout: 3600, networks: [], ipv6Preferred: false,
      templateHostname: 'template-{image.name}-{timestamp}', imageType: 'qcow2', cleanFloatingIps: false,
      images: [{
        name: 'img', diskimage: 'img', minRam: 1024, pause: false, username: 'jenkins', userHome: '/home/jenkins',
        privateKey: '/var/lib/jenkins/.ssh/id_rsa', meta: {},
      }],
    });
    expect(config.targets[0]).toEqual({
      name: 't1', hostname: '{label.name}-{provider.name}-{node_id}',
      subnodeHostname: '{label.name}-{provider.name}-{node_id}-{subnode_id}', rate: 1.0, assignViaGearman: false,
    });
  });

  it('provider leases default to 20 s renewed every 5 s; a renewal slower than half the lease is refused at its line', () => {
    const plain = load(configText()).result.config!;
    expect([plain.providerLeaseSeconds, plain.providerLeaseRenewSeconds]).toEqual([20, 5]);
    const text = configText({ top: ['provider-lease-seconds: 10', 'provider-lease-renew-seconds: 6'] });
    expectProblem(load(text).result, {
      path: 'provider-lease-renew-seconds',
      line: lineOf(text, 'provider-lease-renew-seconds'),
      message: 'must be at most half of provider-lease-seconds (10)',
    });
  });

  it('gearman servers default to port 4730 and a numeric release becomes a string', () => {
    const { result } = load(configText({
      top: ['gearman-servers:', '  - host: zuul'],
      diskimages: ['- name: img', '  release: 21', '  env-vars:', '    DIB_CHECKSUM: 1'],
    }));
    expect(result.config?.gearmanServers).toEqual([{ host: 'zuul', port: 4730 }]);
    expect(result.config?.diskimages[0]?.release).toBe('21');
    expect(result.config?.diskimages[0]?.envVars).toEqual({ DIB_CHECKSUM: '1' });
  });

  it('a fake provider without a fake key gets the default simulated cloud', () => {
    const { result } = load(configText());
    expect(result.config?.providers[0]?.fake).toEqual({
      latency: { create: 0.2, active: 0.5, delete: 0.3, upload: 1.0 },
      failureRate: { create: 0, errorStatus: 0, stuckInBuild: 0, delete: 0, upload: 0 },
      quota: { instances: 1000, cores: 4000, ram: 4096000 },
      flavors: [
        { name: 'm1.tiny', ram: 512, vcpus: 1 },
        { name: 'm1.small', ram: 2048, vcpus: 1 },
        { name: 'm1.medium', ram: 4096, vcpus: 2 },
        { name: 'm1.large', ram: 8192, vcpus: 4 },
      ],
    });
  });

  it('a quota of -1 in a simulated cloud is unlimited, as docs/fake-cloud.md says; -2 is refused', () => {
    const fake = (quota: string) =>
      load(configText({ providers: provider('prov', 'driver: fake', 'max-servers: 5', 'fake:', `  quota: ${quota}`, 'images:', '  - name: img', '    min-ram: 1') })).result;
    expect(fake('{instances: -1, cores: -1, ram: -1}').config?.providers[0]?.fake?.quota).toEqual({ instances: -1, cores: -1, ram: -1 });
    expect(fake('{instances: -2}').problems.map((p) => p.message)).toContain('must be -1 (unlimited) or a number of 0 or more');
  });

  it('fake settings given in part keep the other defaults', () => {
    const { result } = load(configText({
      providers: provider('prov', 'driver: fake', 'max-servers: 5', 'fake:', '  latency: {create: 0}',
        '  failure-rate: {stuck-in-build: 0.25}', '  quota: {instances: 3}', '  flavors: [{name: big, ram: 16384, vcpus: 8}]',
        "  ssh: '127.0.0.1:2222'", '  state-file: /tmp/fake.json', 'images:', '  - name: img', '    min-ram: 1'),
    }));
    const fake = result.config?.providers[0]?.fake;
    expect(fake?.latency).toEqual({ create: 0, active: 0.5, delete: 0.3, upload: 1.0 });
    expect(fake?.failureRate.stuckInBuild).toBe(0.25);
    expect(fake?.quota).toEqual({ instances: 3, cores: 4000, ram: 4096000 });
    expect(fake?.flavors).toEqual([{ name: 'big', ram: 16384, vcpus: 8 }]);
    expect(fake?.ssh).toBe('127.0.0.1:2222');
    expect(fake?.stateFile).toBe('/tmp/fake.json');
  });

  it('old-style networks and yes/no booleans (YAML 1.1, as PyYAML read them) are understood', () => {
    const { result } = load(configText({
      providers: provider('prov', 'driver: fake', 'max-servers: 5', 'ipv6-preferred: yes',
        'networks:', '  - net-id: abc', '  - net-label: private', '  - name: public-net', 'images: []'),
      labels: ['- name: lab', '  image: img', '  min-ready: -1'],
    }));
    expect(result.problems).toEqual([]);
    expect(result.config?.providers[0]?.ipv6Preferred).toBe(true);
    expect(result.config?.providers[0]?.networks).toEqual([{ netId: 'abc' }, { netLabel: 'private' }, { name: 'public-net' }]);
  });
});

describe('Nodepool 0.4 files', () => {
  it('a 0.4 configuration loads with only ignored-key warnings', () => {
    const result = loadConfig(fixture('nodepool-0.4.yaml'), { env: {}, cwd: tempDir(), homeDir: tempDir(), cloudsSystemDir: tempDir() });
    expect(result.problems.every((p) => p.severity === 'warning')).toBe(true);
    expect(result.ignored).toEqual(['zookeeper-servers', 'providers[0].pool', 'providers[0].networks[0].public']);
    expect(result.problems).toHaveLength(3);
    const config = result.config!;
    expect(config.labels.map((l) => l.name)).toEqual(['ubuntu-trusty', 'ubuntu-xenial-2-node', 'centos-7']);
    expect(config.providers.map((p) => [p.name, p.driver, p.imageType])).toEqual([['cloud-east', 'openstack', 'qcow2'], ['cloud-west', 'openstack', 'vhd']]);
    expect(config.diskimages.find((d) => d.name === 'centos-7')?.release).toBe('7');
    expect(config.targets[0]?.jenkins).toEqual({ testJob: 'node-test' });
    expect(config.targets[1]?.assignViaGearman).toBe(true);
  });

  it("upstream's fake.yaml (auth-url: fake) selects the fake driver", () => {
    const result = loadConfig(fixture('fake-0.4.yaml'), { env: {}, cwd: tempDir(), homeDir: tempDir(), cloudsSystemDir: tempDir() });
    expect(result.problems.map((p) => p.path)).toEqual(['zookeeper-servers']);
    expect(result.config?.providers[0]?.driver).toBe('fake');
    expect(result.config?.providers[0]?.fake?.flavors).toHaveLength(4);
  });

  it('the 0.4 fixture is checked against a clouds.yaml that defines its cloud', () => {
    const home = tempDir();
    writeFile(home, '.config/openstack/clouds.yaml', 'clouds:\n  east:\n    auth: {auth_url: https://k}\n');
    const result = loadConfig(fixture('nodepool-0.4.yaml'), { env: {}, cwd: tempDir(), homeDir: home, cloudsSystemDir: tempDir() });
    expect(result.config).toBeDefined();
  });
});

describe('keys we do not act on', () => {
  it('ignored keys are warnings and listed in ignored', () => {
    const text = configText({
      top: ['zookeeper-servers:', '  - host: zk', 'script-dir: /etc/nodepool/scripts', 'cron:', "  image-update: '14 2 * * *'"],
      providers: provider('prov', 'driver: fake', 'max-servers: 5', 'pool: x', 'images:', '  - name: img', '    min-ram: 1', '    base-image: Precise', '    setup: prepare.sh'),
    });
    const { result } = load(text);
    expect(result.config).toBeDefined();
    expect(result.ignored).toEqual([
      'zookeeper-servers', 'script-dir', 'cron.image-update', 'providers[0].pool',
      'providers[0].images[0].base-image', 'providers[0].images[0].setup',
    ]);
    expectProblem(result, { path: 'zookeeper-servers', line: 1, severity: 'warning', message: "'zookeeper-servers' is ignored: coordination is done through the database" });
    expectProblem(result, { path: 'providers[0].images[0].setup', line: lineOf(text, 'setup:'), severity: 'warning', message: "'setup' is ignored: snapshot images" });
  });

  it('an unknown key is a warning naming the key, with a suggestion', () => {
    const text = configText({ labels: [...BASE.labels, '  min-redy: 3'] });
    const { result } = load(text);
    expect(result.config).toBeDefined();
    expectProblem(result, { path: 'labels[0].min-redy', line: lineOf(text, 'min-redy'), severity: 'warning', message: "unknown key 'min-redy' (ignored); did you mean 'min-ready'?" });
    expect(result.ignored).toEqual([]);
  });

  it('a fake key on an openstack provider is ignored with a warning', () => {
    const text = configText({ providers: provider('prov', 'cloud: c', 'max-servers: 5', 'fake:', '  ssh: nonsense', 'images:', '  - name: img', '    min-ram: 1') });
    const { result } = load(text);
    expect(result.config?.providers[0]?.fake).toBeUndefined();
    expectProblem(result, { path: 'providers[0].fake', line: lineOf(text, 'fake:'), severity: 'warning', message: 'only used by driver fake' });
    expect(result.ignored).toEqual(['providers[0].fake']);
  });

  it('a key given twice is a warning and the last one is used', () => {
    const text = configText({ labels: [...BASE.labels, '  min-ready: 1', '  min-ready: 4'] });
    const { result } = load(text);
    expect(result.config?.labels[0]?.minReady).toBe(4);
    expectProblem(result, { path: 'labels[0].min-ready', line: lineOf(text, 'min-ready: 4'), severity: 'warning', message: `key 'min-ready' appears twice (first at line ${lineOf(text, 'min-ready: 1')})` });
  });

  it('an openstack provider without cloud or auth-url gets a warning', () => {
    const text = configText({ providers: provider('prov', 'max-servers: 5', 'images:', '  - name: img', '    min-ram: 1') });
    const { result } = load(text);
    expect(result.config).toBeDefined();
    expectProblem(result, { path: 'providers[0]', line: lineOf(text, '- name: prov', 2), severity: 'warning', message: "provider 'prov' has no credentials: set cloud or auth-url" });
  });

  it('provider images without any diskimages are a warning, not an error (0.4 loaded such files)', () => {
    const text = configText({ diskimages: null });
    const { result } = load(text);
    expect(result.config).toBeDefined();
    expectProblem(result, { path: 'providers[0].images[0].name', line: lineOf(text, '    - name: img'), severity: 'warning', message: "no diskimage named 'img' (the file defines no diskimages)" });
  });

  it('a disabled label may have no providers', () => {
    const { result } = load(configText({ labels: ['- name: lab', '  image: img', '  min-ready: -1'] }));
    expect(result.problems).toEqual([]);
    expect(result.config?.labels[0]?.providers).toEqual([]);
  });
});

describe('clouds.yaml cross-check', () => {
  const openstack = provider('prov', 'cloud: missing-cloud', 'max-servers: 5', 'images:', '  - name: img', '    min-ram: 1');

  it('a cloud that the found clouds.yaml does not define is an error', () => {
    const dir = tempDir();
    const cloudsFile = writeFile(dir, 'clouds.yaml', 'clouds:\n  east: {}\n  west: {}\n');
    const text = configText({ providers: openstack });
    const { result } = load(text, { cwd: dir });
    expectProblem(result, { path: 'providers[0].cloud', line: lineOf(text, 'cloud:'), message: `cloud 'missing-cloud' is not defined in ${cloudsFile} (it defines: east, west)` });
  });

  it('without any clouds.yaml cloud names are not checked', () => {
    const { result } = load(configText({ providers: openstack }));
    expect(result.problems).toEqual([]);
  });

  it('an unreadable clouds.yaml is a warning and cloud names are not checked', () => {
    const dir = tempDir();
    writeFile(dir, 'clouds.yaml', 'clouds: [\n');
    const { result } = load(configText({ providers: openstack }), { cwd: dir });
    expect(result.config).toBeDefined();
    expect(result.problems.map((p) => [p.severity, p.message])).toEqual([['warning', expect.stringContaining('is not valid YAML; cloud names are not checked')]]);
  });

  it('a fake provider with a cloud key is not checked against clouds.yaml', () => {
    const dir = tempDir();
    writeFile(dir, 'clouds.yaml', 'clouds:\n  east: {}\n');
    const { result } = load(configText({ providers: [...BASE.providers, '  cloud: nowhere'] }), { cwd: dir });
    expect(result.problems).toEqual([]);
  });
});

describe('messages', () => {
  it('formatProblem gives file:line: path: message, warnings marked', () => {
    expect(formatProblem({ file: 'n.yaml', line: 3, path: 'labels[0].min-ready', message: 'bad', severity: 'error' })).toBe('n.yaml:3: labels[0].min-ready: bad');
    expect(formatProblem({ file: 'n.yaml', line: 1, path: 'zookeeper-servers', message: 'ignored', severity: 'warning' })).toBe('n.yaml:1: zookeeper-servers: warning: ignored');
    expect(formatProblem({ file: 'n.yaml', path: '', message: 'configuration file not found', severity: 'error' })).toBe('n.yaml: configuration file not found');
    expect(formatProblem({ file: 'n.yaml', path: '(top)', message: 'the file is empty', severity: 'error' })).toBe('n.yaml: (top): the file is empty');
  });

  it('every error of a file is reported at once, in line order', () => {
    const text = configText({ labels: [...BASE.labels, '  min-ready: -5'], providers: provider('prov', 'driver: fake', 'max-servers: x', 'rate: -1', 'images: []') });
    const { result } = load(text);
    expect(result.problems.map((p) => p.path)).toEqual(['labels[0].min-ready', 'providers[0].max-servers', 'providers[0].rate']);
  });

  it('loadConfigOrThrow throws a ConfigError carrying the problems', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'nodepool.yaml', configText({ targets: null }));
    expect(() => loadConfigOrThrow(file, { env: {}, cwd: dir, homeDir: dir, cloudsSystemDir: dir })).toThrow(ConfigError);
    try {
      loadConfigOrThrow(file, { env: {}, cwd: dir, homeDir: dir, cloudsSystemDir: dir });
    } catch (err) {
      expect((err as ConfigError).problems[0]?.path).toBe('targets');
      expect((err as Error).message).toBe(`${file}:1: targets: missing required key 'targets'`);
    }
  });

  it('a secret in a wrongly typed value never reaches the message', () => {
    const text = configText({ top: ['dburi: [mysql://u:hunter2@db/np]'] });
    const { result } = load(text);
    expect(JSON.stringify(result.problems)).not.toContain('hunter2');
    expect(readFileSync(writeFile(tempDir(), 'x', text), 'utf8')).toContain('hunter2');
  });
});
