import { describe, expect, it } from 'vitest';
import { imageStatus } from '../../src/simulated-cloud/index.js';

describe('a simulated image\'s upload', () => {
  it('is queued until data comes in, saving until its active time, then active', () => {
    expect(imageStatus({}, 5)).toBe('queued');
    expect(imageStatus({ savingSince: 5 }, 6)).toBe('saving');
    expect(imageStatus({ savingSince: 5, activeAt: 10 }, 9)).toBe('saving');
    expect(imageStatus({ activeAt: 10 }, 9)).toBe('saving');
    expect(imageStatus({ activeAt: 10 }, 10)).toBe('active');
  });
});
