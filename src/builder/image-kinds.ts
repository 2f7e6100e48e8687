/**
 * The image-build and image-upload actors as the actor host persists them:
 * each snapshot is written with its record in one transaction
 * (docs/architecture.md, "Persistence"). A record a person or retention
 * marked `deleting` stays so: an actor that has not yet been told never
 * walks it back. An actor that reached `removed` has its record removed
 * with its snapshot.
 */
import type { PersistedKind, SnapshotView } from '../actors/persisted-kind.js';
import { isBuildActor, isUploadActor, recordIdOf } from '../../machines/actor-ids.js';
import { buildStateOf, imageBuildMachine, type ImageBuildContext } from '../../machines/image-build.machine.js';
import { imageUploadMachine, uploadStateOf, type ImageUploadContext } from '../../machines/image-upload.machine.js';

export const BUILD_SNAPSHOT_KIND = 'image-build';
export const UPLOAD_SNAPSHOT_KIND = 'image-upload';

const buildId = (actorId: string) => recordIdOf(actorId, 'build') as number;
const uploadId = (actorId: string) => recordIdOf(actorId, 'upload') as number;

export const BUILD_KIND: PersistedKind = {
  kind: BUILD_SNAPSHOT_KIND,
  owns: isBuildActor,
  machine: imageBuildMachine,
  stateOf: (snapshot: SnapshotView) => buildStateOf(snapshot.value),
  async writeRecord(tx, actorId, snapshot) {
    const id = buildId(actorId);
    if (!(await tx.builds.get(id))) return false;
    const context = snapshot.context as ImageBuildContext;
    await tx.builds.updateUnlessDeleting(id, { state: buildStateOf(snapshot.value), formats: context.formats });
    return true;
  },
  async removeRecord(tx, actorId) {
    await tx.builds.delete(buildId(actorId));
  },
};

export const UPLOAD_KIND: PersistedKind = {
  kind: UPLOAD_SNAPSHOT_KIND,
  owns: isUploadActor,
  machine: imageUploadMachine,
  stateOf: (snapshot: SnapshotView) => uploadStateOf(snapshot.value),
  async writeRecord(tx, actorId, snapshot) {
    const id = uploadId(actorId);
    if (!(await tx.uploads.get(id))) return false;
    const context = snapshot.context as ImageUploadContext;
    await tx.uploads.updateUnlessDeleting(id, { state: uploadStateOf(snapshot.value), externalId: context.externalId ?? null });
    return true;
  },
  async removeRecord(tx, actorId) {
    await tx.uploads.delete(uploadId(actorId));
  },
};

export const IMAGE_KINDS: readonly PersistedKind[] = [BUILD_KIND, UPLOAD_KIND];
