/**
 * Writes each image-build and image-upload actor's snapshot and its record in
 * one transaction at every change (design.md "Truth and actors"). A record a
 * person or retention marked `deleting` stays so: an actor that has not yet
 * been told never walks it back. An actor that reached `removed` has its
 * record and snapshot removed together.
 */
import type { AnyActorRef } from 'xstate';
import type { Database } from '../db/index.js';
import type { Logger } from '../log/index.js';
import { buildStateOf, type ImageBuildContext } from '../../machines/image-build.machine.js';
import { uploadStateOf, type ImageUploadContext } from '../../machines/image-upload.machine.js';
import { isBuildActor } from '../../machines/builder.machine.js';
import { SerialWrites } from '../runtime/serial-writes.js';

interface SnapshotLike<C> {
  status: string;
  value: unknown;
  context: C;
}

export const BUILD_SNAPSHOT_KIND = 'image-build';
export const UPLOAD_SNAPSHOT_KIND = 'image-upload';

export class ImagePersistence {
  private readonly writes: SerialWrites<AnyActorRef>;
  private readonly written = new Map<string, string>();

  constructor(
    private readonly db: Database,
    log: Logger,
    /** Called when an actor's record vanished under it: the actor has nothing left to do. */
    private readonly onRecordGone: (actorId: string) => void,
  ) {
    this.writes = new SerialWrites((id, actor) => this.write(id, actor), log, 'could not persist image state');
  }

  noteSnapshot(actor: AnyActorRef): void {
    this.writes.request(actor.id, actor);
  }

  flush(): Promise<void> {
    return this.writes.flush();
  }

  private async write(actorId: string, actor: AnyActorRef): Promise<void> {
    const id = Number(actorId.slice(actorId.indexOf('-') + 1));
    const build = isBuildActor(actorId);
    const snapshot = actor.getSnapshot() as SnapshotLike<ImageBuildContext & ImageUploadContext>;
    if (snapshot.status === 'done') {
      await this.db.transaction(async (tx) => {
        if (build) await tx.builds.delete(id);
        else await tx.uploads.delete(id);
        await tx.snapshots.delete(actorId);
      });
      this.written.delete(actorId);
      return;
    }
    const persisted = actor.getPersistedSnapshot();
    const text = JSON.stringify(persisted);
    if (this.written.get(actorId) === text) return;
    const gone = await this.db.transaction(async (tx) => {
      const exists = build ? await tx.builds.get(id) : await tx.uploads.get(id);
      if (!exists) {
        await tx.snapshots.delete(actorId);
        return true;
      }
      if (build) {
        await tx.builds.updateUnlessDeleting(id, { state: buildStateOf(snapshot.value), formats: snapshot.context.formats });
      } else {
        await tx.uploads.updateUnlessDeleting(id, {
          state: uploadStateOf(snapshot.value),
          externalId: snapshot.context.externalId ?? null,
        });
      }
      await tx.snapshots.save(actorId, build ? BUILD_SNAPSHOT_KIND : UPLOAD_SNAPSHOT_KIND, persisted);
      return false;
    });
    if (gone) {
      this.written.delete(actorId);
      this.onRecordGone(actorId);
    } else {
      this.written.set(actorId, text);
    }
  }
}
