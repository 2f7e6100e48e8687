import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, findCloudsYaml, loadCloudsYaml } from '../../src/config/index.js';
import { cleanTempDirs, tempDir, writeFile } from './helpers.js';

afterEach(cleanTempDirs);

const CLOUDS = 'clouds:\n  east:\n    auth:\n      auth_url: https://keystone.east/v3\n      password: pw\n    region_name: RegionOne\n';

/** Four places, each with its own clouds.yaml, so the test can remove them in order. */
function places() {
  const envFile = writeFile(tempDir(), 'custom/clouds.yaml', CLOUDS);
  const cwd = tempDir();
  const home = tempDir();
  const system = tempDir();
  return {
    envFile,
    cwdFile: writeFile(cwd, 'clouds.yaml', CLOUDS),
    homeFile: writeFile(home, '.config/openstack/clouds.yaml', CLOUDS),
    systemFile: writeFile(system, 'clouds.yaml', CLOUDS),
    lookup: { env: { OS_CLIENT_CONFIG_FILE: envFile }, cwd, homeDir: home, systemDir: system },
  };
}

describe('finding clouds.yaml as OpenStack clients do', () => {
  it('OS_CLIENT_CONFIG_FILE comes first', () => {
    const p = places();
    expect(findCloudsYaml(p.lookup)).toBe(p.envFile);
  });

  it('then ./clouds.yaml', () => {
    const p = places();
    expect(findCloudsYaml({ ...p.lookup, env: {} })).toBe(p.cwdFile);
  });

  it('then ~/.config/openstack/clouds.yaml', () => {
    const p = places();
    expect(findCloudsYaml({ ...p.lookup, env: {}, cwd: tempDir() })).toBe(p.homeFile);
  });

  it('then /etc/openstack/clouds.yaml', () => {
    const p = places();
    expect(findCloudsYaml({ ...p.lookup, env: {}, cwd: tempDir(), homeDir: tempDir() })).toBe(p.systemFile);
  });

  it('a missing OS_CLIENT_CONFIG_FILE falls through to the next place', () => {
    const p = places();
    expect(findCloudsYaml({ ...p.lookup, env: { OS_CLIENT_CONFIG_FILE: join(tempDir(), 'gone.yaml') } })).toBe(p.cwdFile);
  });

  it('nowhere gives undefined', () => {
    expect(findCloudsYaml({ env: {}, cwd: tempDir(), homeDir: tempDir(), systemDir: tempDir() })).toBeUndefined();
  });
});

describe('reading clouds.yaml', () => {
  it('returns the clouds mapping', () => {
    const clouds = loadCloudsYaml(writeFile(tempDir(), 'clouds.yaml', CLOUDS));
    expect(Object.keys(clouds)).toEqual(['east']);
    expect(clouds.east?.region_name).toBe('RegionOne');
    expect(clouds.east?.auth?.auth_url).toBe('https://keystone.east/v3');
  });

  it('a missing file is a ConfigError', () => {
    expect(() => loadCloudsYaml(join(tempDir(), 'clouds.yaml'))).toThrow(ConfigError);
  });

  it('bad YAML is a ConfigError that does not echo the file', () => {
    const file = writeFile(tempDir(), 'clouds.yaml', 'clouds:\n  east: {password: "hunter2\n');
    expect(() => loadCloudsYaml(file)).toThrow(`${file}: is not valid YAML`);
    try {
      loadCloudsYaml(file);
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });
});
