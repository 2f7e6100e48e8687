/**
 * The builder machine's `survey` effect: what this process should do now,
 * decided with the database so that several builders (on one host or many)
 * share the work and each build and upload is done by exactly one of them.
 *
 * 1. Renew the leases of the actors held; an actor whose lease another
 *    process took over (ours lapsed) is reported lost and stopped.
 * 2. Whoever holds the planner lease runs planImages() and writes the
 *    outcome: new build and upload records, requests handled, records marked
 *    `deleting`. The others skip this step.
 * 3. Claim work there is room for: a build waiting for a builder (new, or
 *    left by a builder whose lease lapsed), an upload of a build whose files
 *    are on this host, a deletion. A claim is a lease in the database.
 */
import { hostname as osHostname } from 'node:os';
import type { NodepoolConfig } from '../config/types.js';
import type { Database, ImageBuildRecord, ImageUploadRecord } from '../db/index.js';
import type { Logger } from '../log/index.js';
import type { Clock } from '../core/clock.js';
import { imageWorkLease, PLANNER_LEASE } from '../core/leases.js';
import { renderTemplate } from '../core/templates.js';
import { buildActorId, uploadActorId } from '../../machines/actor-ids.js';
import type { BuildClaim, SurveyInput, SurveyResult, UploadClaim } from '../../machines/builder.machine.js';
import { buildOutputBase } from './build-effects.js';
import { planImages } from './plan.js';

/** Deletions claimed per survey: enough to keep up, few enough not to flood a cloud's queue at once. */
const DELETIONS_PER_SURVEY = 20;

export interface UploadRetry {
  maxAttempts: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
}

export interface SurveyOptions {
  db: Database;
  config: () => NodepoolConfig;
  clock: Clock;
  log: Logger;
  /** This process as a lease owner. */
  owner: string;
  /** Where this builder writes build files; uploads of a build are done on its host. */
  hostname?: string;
  leaseTtlMs: number;
  buildTimeoutMs: number;
  buildRetryMs: number;
  uploadRetry: UploadRetry;
  /** Waits until the held actors' states are in the database (before leases are given up). */
  flush: () => Promise<void>;
  /** The saved snapshot a claimed actor resumes from, when it has one that still fits its machine. */
  savedSnapshot: (actorId: string) => Promise<unknown>;
}

const workLease = imageWorkLease;

export class BuilderSurvey {
  /** Work leases this process holds, by actor id. */
  private readonly leases = new Set<string>();
  private readonly hostname: string;

  constructor(private readonly options: SurveyOptions) {
    this.hostname = options.hostname ?? osHostname();
  }

  async run(input: SurveyInput): Promise<SurveyResult> {
    const { db, owner, leaseTtlMs } = this.options;
    const now = this.options.clock.now();
    const result: SurveyResult = { builds: [], uploads: [], deletes: [], lost: [] };

    await this.options.flush();
    for (const actorId of [...this.leases]) {
      if (actorId in input.held) continue;
      // Let go: the actor rested or finished, and its state is written.
      await db.leases.release(workLease(actorId), owner);
      this.leases.delete(actorId);
    }
    for (const actorId of Object.keys(input.held)) {
      if (await db.leases.renew(workLease(actorId), owner, leaseTtlMs, now)) {
        this.leases.add(actorId);
      } else {
        this.options.log.warn({ actor: actorId }, `lost the lease of ${actorId} to another builder; stopping it here`);
        this.leases.delete(actorId);
        result.lost.push(actorId);
      }
    }

    if (await db.leases.tryAcquire(PLANNER_LEASE, owner, leaseTtlMs, now)) await this.plan(now);

    const builds = await db.builds.list();
    const uploads = await db.uploads.list();
    this.tellHeld(input, builds, uploads, result);
    await this.claimBuilds(input, builds, uploads, result, now);
    await this.claimUploads(input, builds, uploads, result, now);
    return result;
  }

  /** Gives every lease up (a graceful stop, after the actors' states are written). */
  async releaseAll(): Promise<void> {
    for (const actorId of this.leases) await this.options.db.leases.release(workLease(actorId), this.options.owner);
    this.leases.clear();
    await this.options.db.leases.release(PLANNER_LEASE, this.options.owner);
  }

  private async plan(now: number): Promise<void> {
    const { db, log } = this.options;
    const config = this.options.config();
    const plan = planImages({
      config,
      builds: await db.builds.list(),
      uploads: await db.uploads.list(),
      requests: await db.buildRequests.listPending(),
      now,
      buildRetryMs: this.options.buildRetryMs,
    });
    await db.transaction(async (tx) => {
      for (const build of plan.builds) {
        const record = await tx.builds.create({ image: build.image, state: 'building', createdAt: now });
        // An id the database hands out again must not come with the state of the actor that had it before.
        await tx.snapshots.delete(buildActorId(record.id));
        for (const id of build.requestIds) await tx.buildRequests.markHandled(id);
        log.info({ build: record.id, image: build.image }, `build ${record.id} of ${build.image} is due: ${build.why}`);
      }
      for (const dropped of plan.droppedRequests) {
        await tx.buildRequests.markHandled(dropped.id);
        log.warn({ request: dropped.id }, `build request ${dropped.id} dropped: ${dropped.why}`);
      }
      for (const upload of plan.uploads) {
        const provider = config.providers.find((p) => p.name === upload.provider);
        const externalName = renderTemplate(provider?.templateHostname ?? '{image.name}-{timestamp}', {
          image: upload.image,
          provider: upload.provider,
          timestamp: Math.floor(now / 1000),
        });
        const record = await tx.uploads.create({ ...upload, externalName, state: 'uploading', createdAt: now });
        await tx.snapshots.delete(uploadActorId(record.id));
        log.info({ upload: record.id, build: upload.buildId, provider: upload.provider }, `upload ${record.id}: build ${upload.buildId} to ${upload.provider} as ${externalName}`);
      }
      for (const deletion of plan.deleteUploads) {
        if (await tx.uploads.markDeleting(deletion.id)) log.info({ upload: deletion.id }, `upload ${deletion.id} to be deleted: ${deletion.why}`);
      }
      for (const deletion of plan.deleteBuilds) {
        if (await tx.builds.markDeleting(deletion.id)) log.info({ build: deletion.id }, `build ${deletion.id} to be deleted: ${deletion.why}`);
      }
    });
  }

  /** A held actor whose record was marked for deletion is told; one whose record is gone is stopped. */
  private tellHeld(input: SurveyInput, builds: ImageBuildRecord[], uploads: ImageUploadRecord[], result: SurveyResult): void {
    const records = new Map<string, { state: string }>([
      ...builds.map((b) => [buildActorId(b.id), b] as const),
      ...uploads.map((u) => [uploadActorId(u.id), u] as const),
    ]);
    for (const [actorId, state] of Object.entries(input.held)) {
      if (result.lost.includes(actorId)) continue;
      const record = records.get(actorId);
      if (!record) {
        if (state !== 'removed') result.lost.push(actorId);
      } else if (record.state === 'deleting' && state !== 'deleting' && state !== 'removed') {
        result.deletes.push(actorId);
      }
    }
  }

  /**
   * Takes the work's lease, then reads the record again: between the list
   * and the lease another builder may have finished the work and let it go,
   * and then it is no longer ours to do.
   */
  private async claim(actorId: string, now: number, stillWanted: () => Promise<boolean>): Promise<boolean> {
    const { db, owner, leaseTtlMs } = this.options;
    if (!(await db.leases.tryAcquire(workLease(actorId), owner, leaseTtlMs, now))) return false;
    if (!(await stillWanted())) {
      await db.leases.release(workLease(actorId), owner);
      return false;
    }
    this.leases.add(actorId);
    return true;
  }

  private buildIn(id: number, state: string) {
    return async () => (await this.options.db.builds.get(id))?.state === state;
  }

  private uploadIn(id: number, states: readonly string[]) {
    return async () => states.includes((await this.options.db.uploads.get(id))?.state ?? '');
  }

  private async claimBuilds(input: SurveyInput, builds: ImageBuildRecord[], uploads: ImageUploadRecord[], result: SurveyResult, now: number) {
    const { db, log } = this.options;
    const oldestFirst = [...builds].reverse();
    let room = input.freeBuildWorkers;
    let deletions = DELETIONS_PER_SURVEY;
    for (const build of oldestFirst) {
      const actorId = buildActorId(build.id);
      if (actorId in input.held) continue;
      if (build.state === 'building' && room > 0) {
        if (!(await this.claim(actorId, now, this.buildIn(build.id, 'building')))) continue;
        room -= 1;
        const filename = buildOutputBase(this.options.config(), build.image, build.id);
        const taken = build.builder !== null;
        await db.builds.update(build.id, { builder: this.hostname, filename });
        log.info({ build: build.id }, taken ? `build ${build.id} of ${build.image} was left by ${build.builder}; building it again here` : `building ${build.image} (build ${build.id})`);
        result.builds.push(await this.buildClaim(build.id, false));
      } else if (build.state === 'deleting' && deletions > 0) {
        // Files live on the builder's host, and the record goes only after its uploads.
        if (build.builder !== null && build.builder !== this.hostname) continue;
        if (uploads.some((u) => u.buildId === build.id)) continue;
        if (!(await this.claim(actorId, now, this.buildIn(build.id, 'deleting')))) continue;
        deletions -= 1;
        result.builds.push(await this.buildClaim(build.id, true));
      }
    }
  }

  private async claimUploads(input: SurveyInput, builds: ImageBuildRecord[], uploads: ImageUploadRecord[], result: SurveyResult, now: number) {
    const buildsById = new Map(builds.map((b) => [b.id, b]));
    let room = input.freeUploadWorkers;
    let deletions = DELETIONS_PER_SURVEY;
    for (const upload of [...uploads].reverse()) {
      const actorId = uploadActorId(upload.id);
      if (actorId in input.held) continue;
      if (upload.state === 'deleting') {
        if (deletions <= 0 || !(await this.claim(actorId, now, this.uploadIn(upload.id, ['deleting'])))) continue;
        deletions -= 1;
        result.uploads.push(await this.uploadClaim(upload, true));
      } else if ((upload.state === 'uploading' || upload.state === 'failed') && room > 0) {
        const build = buildsById.get(upload.buildId);
        if (build?.state !== 'ready' || build.builder !== this.hostname) continue;
        if (!(await this.claim(actorId, now, this.uploadIn(upload.id, ['uploading', 'failed'])))) continue;
        room -= 1;
        result.uploads.push(await this.uploadClaim(upload, false));
      }
    }
  }

  /** A claim resumes the actor from its saved snapshot when it has one: the work goes on where it was left. */
  private async buildClaim(buildId: number, doDelete: boolean): Promise<BuildClaim> {
    const resumeFrom = await this.resumeFrom(buildActorId(buildId));
    return { input: { buildId, buildTimeoutMs: this.options.buildTimeoutMs }, delete: doDelete, ...(resumeFrom !== undefined && { resumeFrom }) };
  }

  private async uploadClaim(upload: ImageUploadRecord, doDelete: boolean): Promise<UploadClaim> {
    const resumeFrom = await this.resumeFrom(uploadActorId(upload.id));
    return {
      input: { uploadId: upload.id, ...this.options.uploadRetry, ...(upload.externalId ? { externalId: upload.externalId } : {}) },
      delete: doDelete,
      ...(resumeFrom !== undefined && { resumeFrom }),
    };
  }

  private async resumeFrom(actorId: string): Promise<unknown> {
    const snapshot = await this.options.savedSnapshot(actorId);
    if (snapshot !== undefined) this.options.log.info({ actor: actorId }, `${actorId} resumes from its saved state`);
    return snapshot;
  }
}
