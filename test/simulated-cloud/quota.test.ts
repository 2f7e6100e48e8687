import { describe, expect, it } from 'vitest';
import { quotaExceeded, quotaUsage, requestDelete, startServerLife } from '../../src/simulated-cloud/index.js';

const small = { vcpus: 1, ram: 2048 };
const large = { vcpus: 4, ram: 8192 };

describe('simulated quota', () => {
  it('counts every server not yet gone, by its flavor, deleting and ERROR ones included', () => {
    const building = { ...startServerLife(0, 'active', 10), size: large };
    const failed = { ...startServerLife(0, 'error', 10), size: small };
    const deleting = { ...startServerLife(0, 'active', 10), size: small };
    requestDelete(deleting, 100, 50);
    const servers = [building, failed, deleting];
    expect(quotaUsage(servers, 120, (s) => s.size)).toEqual({ instances: 3, cores: 6, ram: 12_288 });
    expect(quotaUsage(servers, 150, (s) => s.size)).toEqual({ instances: 2, cores: 5, ram: 10_240 });
  });

  it('lets a server through when it fits, -1 being unlimited, and refuses one that does not with Nova\'s message', () => {
    expect(quotaExceeded({ instances: 2, cores: -1, ram: -1 }, { instances: 1, cores: 50, ram: 90_000 }, large)).toBeUndefined();
    expect(quotaExceeded({ instances: 2, cores: 20, ram: 51_200 }, { instances: 2, cores: 2, ram: 4096 }, small))
      .toBe('Quota exceeded for instances: Requested 1, but already used 2 of 2 instances');
    expect(quotaExceeded({ instances: 10, cores: 5, ram: -1 }, { instances: 1, cores: 4, ram: 8192 }, large))
      .toBe('Quota exceeded for cores: Requested 4, but already used 4 of 5 cores');
  });

  it('names every resource a server would exceed, sorted, as Nova does', () => {
    expect(quotaExceeded({ instances: 2, cores: 8, ram: 100_000 }, { instances: 2, cores: 8, ram: 16_384 }, large))
      .toBe('Quota exceeded for cores, instances: Requested 4, 1, but already used 8, 2 of 8, 2 cores, instances');
  });
});
