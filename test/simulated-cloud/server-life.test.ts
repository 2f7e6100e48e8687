import { describe, expect, it } from 'vitest';
import {
  BUILD_STATUS, buildPhase, isGone, requestDelete, serverPhase, shownBuildPhase, startServerLife,
} from '../../src/simulated-cloud/index.js';

describe('a simulated server\'s life', () => {
  it('builds until its build time, then is active or in error as decided at creation; a stuck one builds forever', () => {
    const active = startServerLife(1000, 'active', 10_000);
    expect([serverPhase(active, 1000), serverPhase(active, 10_999), serverPhase(active, 11_000)]).toEqual(['building', 'building', 'active']);
    expect(serverPhase(startServerLife(1000, 'error', 10_000), 11_000)).toBe('error');
    const stuck = startServerLife(1000, 'stuck', 10_000);
    expect(stuck.buildEndsAt).toBeUndefined();
    expect(serverPhase(stuck, Number.MAX_SAFE_INTEGER)).toBe('building');
    expect([BUILD_STATUS.building, BUILD_STATUS.active, BUILD_STATUS.error]).toEqual(['BUILD', 'ACTIVE', 'ERROR']);
  });

  it('a delete asked at T completes at T + latency; asking again keeps the first due time', () => {
    const server = startServerLife(0, 'active', 10_000);
    requestDelete(server, 20_000, 5000);
    requestDelete(server, 23_000, 5000);
    expect(server).toMatchObject({ deleteRequestedAt: 20_000, goneAt: 25_000 });
    expect([serverPhase(server, 24_999), serverPhase(server, 25_000)]).toEqual(['deleting', 'gone']);
    expect([isGone(server, 24_999), isGone(server, 25_000)]).toEqual([false, true]);
  });

  it('a delete stops the build where it was: a server deleted while building shows building until it is gone', () => {
    const server = startServerLife(0, 'active', 10_000);
    requestDelete(server, 8000, 5000);
    expect(buildPhase(server, 12_000)).toBe('active');
    expect(shownBuildPhase(server, 12_000)).toBe('building');
    const built = startServerLife(0, 'error', 10_000);
    requestDelete(built, 11_000, 5000);
    expect(shownBuildPhase(built, 12_000)).toBe('error');
  });
});
