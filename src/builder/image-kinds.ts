/**
 * The image-build and image-upload actors as the actor host persists them:
 * each snapshot is written with its record in one transaction
 * (docs/architecture.md, "Persistence"). A record a person or retention
 * marked `deleting` stays so: an actor that has not yet been told never
 * walks it back. An actor that reached `removed` has its record removed
 * with its snapshot.
 */
import { oneByOne, type PersistedKind, type SnapshotView } from '../actors/persisted-kind.js';
import type { Repositories } from '../db/index.js';
import { isBuildActor, isUploadActor, recordIdOf } from '../../machines/actor-ids.js';
import { buildStateOf, imageBuildMachine, type ImageBuildContext } from '../../machines/image-build.machine.js';
import { imageUploadMachine, uploadStateOf, type ImageUploadContext } from '../../machines/image-upload.machine.js';

export const BUILD_SNAPSHOT_KIND = 'image-build';
export const UPLOAD_SNAPSHOT_KIND = 'image-upload';

/** What differs between the two kinds: their ids, machine, record table and the record's fields. */
interface ImageKindSpec<TPatch> {
  kind: string;
  owns: (actorId: string) => boolean;
  id: (actorId: string) => number;
  machine: PersistedKind['machine'];
  stateOf: (value: unknown) => string;
  records: (tx: Repositories) => {
    get(id: number): Promise<unknown>;
    updateUnlessDeleting(id: number, patch: TPatch): Promise<unknown>;
    delete(id: number): Promise<unknown>;
  };
  patch: (snapshot: SnapshotView) => TPatch;
}

function imageKind<TPatch>(spec: ImageKindSpec<TPatch>): PersistedKind {
  return {
    kind: spec.kind,
    owns: spec.owns,
    machine: spec.machine,
    stateOf: (snapshot) => spec.stateOf(snapshot.value),
    writeRecords: oneByOne(async (tx, actorId, snapshot) => {
      const id = spec.id(actorId);
      if (!(await spec.records(tx).get(id))) return false;
      await spec.records(tx).updateUnlessDeleting(id, spec.patch(snapshot));
      return true;
    }),
    async removeRecords(tx, actorIds) {
      for (const actorId of actorIds) await spec.records(tx).delete(spec.id(actorId));
    },
  };
}

export const BUILD_KIND = imageKind({
  kind: BUILD_SNAPSHOT_KIND,
  owns: isBuildActor,
  id: (actorId) => recordIdOf(actorId, 'build') as number,
  machine: imageBuildMachine,
  stateOf: buildStateOf,
  records: (tx) => tx.builds,
  patch: (snapshot) => ({ state: buildStateOf(snapshot.value), formats: (snapshot.context as ImageBuildContext).formats }),
});

export const UPLOAD_KIND = imageKind({
  kind: UPLOAD_SNAPSHOT_KIND,
  owns: isUploadActor,
  id: (actorId) => recordIdOf(actorId, 'upload') as number,
  machine: imageUploadMachine,
  stateOf: uploadStateOf,
  records: (tx) => tx.uploads,
  patch: (snapshot) => ({ state: uploadStateOf(snapshot.value), externalId: (snapshot.context as ImageUploadContext).externalId ?? null }),
});

export const IMAGE_KINDS: readonly PersistedKind[] = [BUILD_KIND, UPLOAD_KIND];
