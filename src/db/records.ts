/**
 * The records the daemons and the commands share through the database. Times
 * are milliseconds since the epoch (numbers, identical on SQLite and MySQL).
 */

export const NODE_STATES = ['building', 'test', 'ready', 'used', 'hold', 'delete'] as const;
export type NodeState = (typeof NODE_STATES)[number];

export interface NodeRecord {
  id: number;
  provider: string;
  label: string;
  target: string;
  /** Host name of the nodepoold that manages the node. */
  manager: string | null;
  az: string | null;
  hostname: string | null;
  nodename: string | null;
  /** The cloud's server id. */
  externalId: string | null;
  ip: string | null;
  ipPrivate: string | null;
  /** The upload (provider image) the node was launched from. */
  uploadId: number | null;
  state: NodeState;
  stateTime: number;
  comment: string | null;
  /** The job that last ran on the node (from its job events). */
  job: string | null;
  createdAt: number;
}

export const SUBNODE_STATES = ['building', 'ready', 'delete'] as const;
export type SubnodeState = (typeof SUBNODE_STATES)[number];

export interface SubnodeRecord {
  id: number;
  nodeId: number;
  hostname: string | null;
  externalId: string | null;
  ip: string | null;
  ipPrivate: string | null;
  state: SubnodeState;
  stateTime: number;
}

export interface JobRecord {
  id: number;
  name: string;
  holdOnFailure: number;
}

export const BUILD_STATES = ['building', 'ready', 'failed', 'deleting'] as const;
export type BuildState = (typeof BUILD_STATES)[number];

/** One diskimage-builder build of a diskimage. */
export interface ImageBuildRecord {
  id: number;
  image: string;
  /** Host name of the builder that made it. */
  builder: string | null;
  /** Path of the output files without extension. */
  filename: string | null;
  /** Formats written, e.g. ['qcow2', 'raw']. */
  formats: string[];
  /** `provider/image` pairs whose upload of this build a person deleted: never uploaded there again. */
  withdrawnFrom: string[];
  state: BuildState;
  stateTime: number;
  createdAt: number;
}

export const UPLOAD_STATES = ['uploading', 'ready', 'failed', 'deleting'] as const;
export type UploadState = (typeof UPLOAD_STATES)[number];

/** One build uploaded to one provider. */
export interface ImageUploadRecord {
  id: number;
  buildId: number;
  provider: string;
  image: string;
  /** Name of the image in the provider. */
  externalName: string | null;
  /** The provider's image id. */
  externalId: string | null;
  state: UploadState;
  stateTime: number;
  createdAt: number;
}

/** `nodepool image-build NAME`: a person asked for a build. */
export interface BuildRequestRecord {
  id: number;
  image: string;
  requestedAt: number;
  /** Set when a builder has started the requested build. */
  handledAt: number | null;
}

/** The persisted snapshot of one actor, keyed by its system id (e.g. `node-12`). */
export interface ActorSnapshotRecord {
  actorId: string;
  /** Machine kind: node, image-build, image-upload, ... */
  kind: string;
  snapshot: unknown;
  updatedAt: number;
}

/** A claim on a piece of work (a build, an upload) by one process until expiry. */
export interface LeaseRecord {
  name: string;
  owner: string;
  expiresAt: number;
}

/** A nodepoold sharing the database (src/db/daemons.ts). */
export interface DaemonRecord {
  /** Its lease owner name, `nodepoold:<host>:<pid>`. */
  name: string;
  host: string;
  pid: number;
  startedAt: number;
  renewedAt: number;
  /** Taken for dead from then on, unless renewed. */
  expiresAt: number;
  /** Giving its providers away (`--drain`, `nodepool daemon-drain`). */
  draining: boolean;
  /** Its status web server's address, when it runs one. */
  web: string | null;
}

/**
 * A change made by a command (hold, delete, image-build, ...), appended in the
 * same transaction as the change itself, so a daemon polling `id > last seen`
 * learns of every change exactly once and in order.
 */
export interface ChangeRecord {
  id: number;
  kind: 'node' | 'subnode' | 'job' | 'build' | 'upload' | 'build-request';
  recordId: number;
  action: string;
  at: number;
  /** What the change carries beyond its action (a forwarded job event, as JSON); null for most. */
  detail?: string | null;
}
