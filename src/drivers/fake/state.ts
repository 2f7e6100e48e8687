import { isGone, type BuildOutcome, type ImageLife, type ServerLife } from '../../simulated-cloud/index.js';
import type { ServerAddresses } from '../driver.js';

export type { BuildOutcome };

/**
 * What the fake cloud remembers, and what its state file holds. Every change
 * that happens by itself (BUILD -> ACTIVE, a delete completing, an upload
 * finishing) is stored as an absolute clock time rather than applied by a
 * timer, so the state read back after a restart carries on where it stopped:
 * a due time already past simply counts as done. What those times mean is the
 * shared model's (src/simulated-cloud/); this file is only their format.
 */
export interface FakeCloudState {
  version: 1;
  /** Next numbers for ids and addresses; never reused, so ids stay unique across restarts. */
  counters: { server: number; image: number; floatingIp: number; address: number };
  servers: StoredServer[];
  images: StoredImage[];
  floatingIps: StoredFloatingIp[];
}

/** A server: its life (createdAt, outcome, buildEndsAt, deleteRequestedAt, goneAt) and what it was created with. */
export interface StoredServer extends ServerLife {
  id: string;
  name: string;
  metadata: Record<string, string>;
  availabilityZone: string;
  imageId: string;
  flavorId: string;
  /** Kept so quota stays right if the flavor leaves the settings. */
  vcpus: number;
  ram: number;
  keyName?: string;
  configDrive?: boolean;
  networks?: { id?: string; name?: string }[];
  fault?: string;
  /** Assigned at creation, shown once ACTIVE. */
  addresses: ServerAddresses;
}

/** An image: saving from its creation (the upload) until activeAt, clock ms. */
export interface StoredImage extends ImageLife {
  id: string;
  name: string;
  properties: Record<string, string>;
  diskFormat?: string;
  /** Bytes read from the uploaded file; absent for seeded images. */
  size?: number;
  sha256?: string;
  createdAt: number;
  /** Clock ms when the upload finishes (status saving until then). */
  activeAt: number;
}

export interface StoredFloatingIp {
  id: string;
  address: string;
  attached: boolean;
}

export function emptyState(): FakeCloudState {
  return {
    version: 1,
    counters: { server: 1, image: 1, floatingIp: 1, address: 1 },
    servers: [],
    images: [],
    floatingIps: [],
  };
}

/**
 * When the next server of a state will have gone: prune has nothing to do
 * before. Kept beside the state (never in the file), worked out again when
 * a state is read from its file.
 */
const nextGoneAt = new WeakMap<FakeCloudState, number>();

function earliestGoneAt(servers: readonly StoredServer[]): number {
  let earliest = Infinity;
  for (const s of servers) if (s.goneAt !== undefined && s.goneAt < earliest) earliest = s.goneAt;
  return earliest;
}

/** A delete was accepted: the server goes at `goneAt`. */
export function noteGoneAt(state: FakeCloudState, goneAt: number): void {
  nextGoneAt.set(state, Math.min(nextGoneAt.get(state) ?? earliestGoneAt(state.servers), goneAt));
}

/**
 * Drops what has finished disappearing, so the file does not grow forever;
 * a state with nothing gone is left as it is, so a change costs no copy of
 * ten thousand servers.
 */
export function prune(state: FakeCloudState, now: number): void {
  let due = nextGoneAt.get(state);
  if (due === undefined) nextGoneAt.set(state, (due = earliestGoneAt(state.servers)));
  if (now < due) return;
  state.servers = state.servers.filter((s) => !isGone(s, now));
  nextGoneAt.set(state, earliestGoneAt(state.servers));
}

/** Servers of a state that have not gone by `now` (all of them, when nothing is due to go). */
export function liveServers(state: FakeCloudState, now: number): StoredServer[] {
  const due = nextGoneAt.get(state) ?? earliestGoneAt(state.servers);
  return now < due ? state.servers : state.servers.filter((s) => !isGone(s, now));
}

/** Checks the shape of a parsed state file well enough to trust it; returns a problem or undefined. */
export function stateProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not a JSON object';
  const v = value as Partial<FakeCloudState>;
  if (v.version !== 1) return `unknown version ${JSON.stringify(v.version)} (expected 1)`;
  const c = v.counters as Record<string, unknown> | undefined;
  if (!c || !['server', 'image', 'floatingIp', 'address'].every((k) => Number.isInteger(c[k]))) {
    return 'counters missing or not integers';
  }
  for (const key of ['servers', 'images', 'floatingIps'] as const) {
    if (!Array.isArray(v[key])) return `"${key}" is not a list`;
  }
  return undefined;
}
