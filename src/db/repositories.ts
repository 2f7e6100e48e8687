/** One repository per record kind, all over the same connection or transaction. */
import type { Knex } from 'knex';
import { ActorSnapshotRepository } from './actor-snapshots.js';
import { ActorTransitionRepository } from './actor-transitions.js';
import { BuildRequestRepository } from './build-requests.js';
import { ChangeRepository } from './changes.js';
import { DaemonRepository } from './daemons.js';
import { ImageBuildRepository } from './image-builds.js';
import { ImageUploadRepository } from './image-uploads.js';
import { JobRepository } from './jobs.js';
import { LeaseRepository } from './leases.js';
import { NodeRepository } from './nodes.js';
import type { Clock } from './rows.js';
import { SubnodeRepository } from './subnodes.js';

export interface Repositories {
  nodes: NodeRepository;
  subnodes: SubnodeRepository;
  jobs: JobRepository;
  builds: ImageBuildRepository;
  uploads: ImageUploadRepository;
  buildRequests: BuildRequestRepository;
  snapshots: ActorSnapshotRepository;
  transitions: ActorTransitionRepository;
  leases: LeaseRepository;
  changes: ChangeRepository;
  daemons: DaemonRepository;
}

export function createRepositories(db: Knex | Knex.Transaction, now: Clock): Repositories {
  return {
    nodes: new NodeRepository(db, now),
    subnodes: new SubnodeRepository(db, now),
    jobs: new JobRepository(db, now),
    builds: new ImageBuildRepository(db, now),
    uploads: new ImageUploadRepository(db, now),
    buildRequests: new BuildRequestRepository(db, now),
    snapshots: new ActorSnapshotRepository(db, now),
    transitions: new ActorTransitionRepository(db, now),
    leases: new LeaseRepository(db, now),
    changes: new ChangeRepository(db, now),
    daemons: new DaemonRepository(db, now),
  };
}
