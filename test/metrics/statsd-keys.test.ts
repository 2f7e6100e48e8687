import { describe, expect, it } from 'vitest';
import { NODE_STATES } from '../../src/db/records.js';
import { deleteKey, dibImageSizeKey, imageUpdateKey, jobKeys, launchKeys, maxServersKey, nodeGauges } from '../../src/metrics/statsd-keys.js';
import { statsdSettingsFrom } from '../../src/metrics/index.js';

describe("0.4's statsd keys", () => {
  it('a launch is counted under its provider, image, the whole, its zone and its target', () => {
    expect(launchKeys({ provider: 'rax', image: 'trusty', target: 'jenkins1', az: 'az1' }, 'ready')).toEqual([
      'nodepool.launch.provider.rax.ready',
      'nodepool.launch.image.trusty.ready',
      'nodepool.launch.ready',
      'nodepool.launch.provider.rax.az1.ready',
      'nodepool.launch.target.jenkins1.ready',
    ]);
  });

  it('a failed launch names its reason (an unclassified one is unknown, as 0.4 said), and a manager replaces the target', () => {
    expect(launchKeys({ provider: 'rax', image: 'trusty', target: 't', manager: 'zuul01' }, 'other')).toEqual([
      'nodepool.launch.provider.rax.error.unknown',
      'nodepool.launch.image.trusty.error.unknown',
      'nodepool.launch.error.unknown',
      'nodepool.launch.manager.zuul01.error.unknown',
    ]);
    expect(launchKeys({ provider: 'p', image: 'i', target: 't' }, 'timeout')[2]).toBe('nodepool.launch.error.timeout');
  });

  it('deletes, uploads, image sizes and max-servers', () => {
    expect(deleteKey('trusty', 'rax', 'jenkins1')).toBe('nodepool.delete.trusty.rax.jenkins1');
    expect(imageUpdateKey('trusty', 'rax')).toBe('nodepool.image_update.trusty.rax');
    expect(dibImageSizeKey('trusty', 'qcow2')).toBe('nodepool.dib_image_build.trusty.qcow2.size');
    expect(maxServersKey('rax')).toBe('nodepool.provider.rax.max_servers');
  });

  it('a job is counted at each level: job, branch, label, provider; without a branch the job alone', () => {
    expect(jobKeys('tempest', 'master', 'trusty', 'rax')).toEqual([
      'nodepool.job.tempest', 'nodepool.job.tempest.master', 'nodepool.job.tempest.master.trusty', 'nodepool.job.tempest.master.trusty.rax',
    ]);
    expect(jobKeys('tempest', undefined, 'trusty', 'rax')).toEqual(['nodepool.job.tempest']);
  });

  it('characters that would break a statsd line become _', () => {
    expect(jobKeys('a:b|c@d e', undefined, 'l', 'p')).toEqual(['nodepool.job.a_b_c_d_e']);
  });

  it('node gauges: every configured name gets every state, 0 when empty; the counts are summed per level', () => {
    const gauges = nodeGauges(
      [
        { provider: 'a', label: 'small', target: 't', state: 'ready', count: 3 },
        { provider: 'b', label: 'small', target: 't', state: 'ready', count: 2 },
        { provider: 'b', label: 'big', target: 't', state: 'used', count: 1 },
      ],
      { states: NODE_STATES, providers: ['a', 'b', 'c'], labels: ['small', 'big'], targets: ['t'] },
    );
    expect(gauges.get('nodepool.nodes.ready')).toBe(5);
    expect(gauges.get('nodepool.nodes.used')).toBe(1);
    expect(gauges.get('nodepool.provider.b.nodes.ready')).toBe(2);
    expect(gauges.get('nodepool.label.small.nodes.ready')).toBe(5);
    expect(gauges.get('nodepool.target.t.nodes.ready')).toBe(5);
    expect(gauges.get('nodepool.provider.c.nodes.hold')).toBe(0);
    // 4 levels of one (nodes) + 1 target + 2 labels + 3 providers, times 6 states.
    expect(gauges.size).toBe((1 + 1 + 2 + 3) * NODE_STATES.length);
  });
});

describe('STATSD_HOST, STATSD_PORT, STATSD_PREFIX', () => {
  it('off without STATSD_HOST; port 8125 unless set; the prefix when given', () => {
    expect(statsdSettingsFrom({})).toBeUndefined();
    expect(statsdSettingsFrom({ STATSD_HOST: ' ' })).toBeUndefined();
    expect(statsdSettingsFrom({ STATSD_HOST: 'graphite' })).toEqual({ host: 'graphite', port: 8125 });
    expect(statsdSettingsFrom({ STATSD_HOST: '127.0.0.1', STATSD_PORT: '9125', STATSD_PREFIX: 'np' })).toEqual({ host: '127.0.0.1', port: 9125, prefix: 'np' });
  });

  it('a port that is not one is refused with what was given', () => {
    expect(() => statsdSettingsFrom({ STATSD_HOST: 'h', STATSD_PORT: 'http' })).toThrow('STATSD_PORT must be a port number (1-65535), not "http"');
    expect(() => statsdSettingsFrom({ STATSD_HOST: 'h', STATSD_PORT: '70000' })).toThrow(/not "70000"/);
  });
});
