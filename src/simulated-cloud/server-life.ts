/**
 * A simulated server's life, the same for both simulated clouds (the fake
 * driver's, src/drivers/fake/, and the OpenStack simulator,
 * src/tools/openstack-simulator/): a few absolute clock times and how the
 * build ends, decided when the server is created. Nothing runs in the
 * background: where a server is at a moment is worked out from those times
 * when asked, so a test's clock decides every transition, and a state read
 * back after a restart carries on where it stopped (a due time already past
 * simply counts as done).
 */

/** How a server's build ends, decided (with the failure draws) when it is created. */
export type BuildOutcome = 'active' | 'error' | 'stuck';

/**
 * The times that decide where a server is, in clock ms. The names are those
 * of the fake cloud's state file (version 1), which stores them as they are.
 */
export interface ServerLife {
  createdAt: number;
  outcome: BuildOutcome;
  /** When BUILD ends, in ACTIVE or ERROR (`outcome`); absent when the server is stuck in BUILD. */
  buildEndsAt?: number;
  /** When a delete was accepted, and when the server is gone (a Nova 404). */
  deleteRequestedAt?: number;
  goneAt?: number;
}

/** Where the build stands at a moment, whatever came after. */
export type BuildPhase = 'building' | 'active' | 'error';

/** Where the server stands: its build, or a delete under way, or gone. */
export type ServerPhase = BuildPhase | 'deleting' | 'gone';

/** Nova's status for each build phase. */
export const BUILD_STATUS = { building: 'BUILD', active: 'ACTIVE', error: 'ERROR' } as const satisfies Record<BuildPhase, string>;
export type BuildStatus = (typeof BUILD_STATUS)[BuildPhase];

/** A server created at `now` whose build takes `buildMs` and ends in `outcome` (a stuck one never ends). */
export function startServerLife(now: number, outcome: BuildOutcome, buildMs: number): ServerLife {
  return { createdAt: now, outcome, ...(outcome !== 'stuck' && { buildEndsAt: now + Math.max(0, buildMs) }) };
}

export function buildPhase(server: ServerLife, at: number): BuildPhase {
  if (server.outcome === 'stuck' || server.buildEndsAt === undefined || at < server.buildEndsAt) return 'building';
  return server.outcome;
}

export function isGone(server: ServerLife, now: number): boolean {
  return server.goneAt !== undefined && now >= server.goneAt;
}

export function serverPhase(server: ServerLife, now: number): ServerPhase {
  if (isGone(server, now)) return 'gone';
  if (server.deleteRequestedAt !== undefined) return 'deleting';
  return buildPhase(server, now);
}

/**
 * The moment whose build phase the server shows at `now`. A delete stops the
 * build where it was: Nova keeps showing the status the server had when the
 * delete came (with task_state deleting) until the server is gone, so a
 * server deleted while building never turns ACTIVE.
 */
export function buildSeenAt(server: ServerLife, now: number): number {
  return server.deleteRequestedAt === undefined ? now : Math.min(now, server.deleteRequestedAt);
}

/** The build phase a server shows at `now` (see buildSeenAt). */
export function shownBuildPhase(server: ServerLife, now: number): BuildPhase {
  return buildPhase(server, buildSeenAt(server, now));
}

/**
 * Accepts a delete at `now`: the server is gone `latencyMs` later. A delete of
 * a server already being deleted changes nothing (it keeps its first due time).
 */
export function requestDelete(server: ServerLife, now: number, latencyMs: number): void {
  if (server.deleteRequestedAt !== undefined) return;
  server.deleteRequestedAt = now;
  server.goneAt = now + Math.max(0, latencyMs);
}
