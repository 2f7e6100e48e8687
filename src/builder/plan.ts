/**
 * What the builders should do next, decided from the records and the
 * configuration alone (docs/behaviour.md, "Images"): which diskimages are due a
 * build, which ready builds still need uploading where, and which builds and
 * uploads retention, a person or the configuration has done away with.
 *
 * Pure: one builder at a time (the holder of the planner lease) runs it and
 * writes the outcome; every builder then claims the work it can do.
 */
import type { NodepoolConfig } from '../config/types.js';
import { withdrawnKey } from '../db/image-builds.js';
import type { BuildRequestRecord, ImageBuildRecord, ImageUploadRecord } from '../db/records.js';

/** Ready uploads kept per (provider image, provider), and ready builds kept per diskimage. */
export const KEEP_READY = 2;

export interface ImagePlanInput {
  config: Pick<NodepoolConfig, 'diskimages' | 'providers'>;
  builds: readonly ImageBuildRecord[];
  uploads: readonly ImageUploadRecord[];
  /** Build requests not handled yet. */
  requests: readonly BuildRequestRecord[];
  now: number;
  /** After a failed build, the next one waits this long (unless a person asks). */
  buildRetryMs: number;
}

export interface PlannedBuild {
  image: string;
  /** The requests this build answers; they are marked handled with it. */
  requestIds: number[];
  why: string;
}

export interface PlannedUpload {
  buildId: number;
  provider: string;
  /** The provider image's name (the upload record's `image`). */
  image: string;
}

export interface PlannedDeletion {
  id: number;
  why: string;
}

export interface ImagePlan {
  builds: PlannedBuild[];
  /** Requests that can no longer be honoured: marked handled without a build. */
  droppedRequests: PlannedDeletion[];
  uploads: PlannedUpload[];
  deleteBuilds: PlannedDeletion[];
  deleteUploads: PlannedDeletion[];
}

/** A provider with max-servers -1 is retired: its images are cleaned up. */
const retired = (provider: { maxServers: number }) => provider.maxServers < 0;

/** Newest first, as the repositories list them; ties by id. */
const newestFirst = <T extends { createdAt: number; id: number }>(a: T, b: T) => b.createdAt - a.createdAt || b.id - a.id;

export function planImages(input: ImagePlanInput): ImagePlan {
  const { config, now } = input;
  const plan: ImagePlan = { builds: [], droppedRequests: [], uploads: [], deleteBuilds: [], deleteUploads: [] };
  const diskimages = new Map(config.diskimages.map((d) => [d.name, d]));
  const liveProviders = config.providers.filter((p) => !retired(p));

  /** The image types each diskimage is needed in, by the live providers that list it. */
  const neededTypes = new Map<string, Set<string>>();
  for (const provider of liveProviders) {
    for (const image of provider.images) {
      const types = neededTypes.get(image.diskimage) ?? new Set<string>();
      types.add(provider.imageType);
      neededTypes.set(image.diskimage, types);
    }
  }

  const buildsOf = (image: string) => input.builds.filter((b) => b.image === image).sort(newestFirst);
  const readyBuildsOf = (image: string) => buildsOf(image).filter((b) => b.state === 'ready');
  const buildsById = new Map(input.builds.map((b) => [b.id, b]));

  // Builds that are due.
  for (const diskimage of config.diskimages) {
    const requests = input.requests.filter((r) => r.image === diskimage.name);
    const types = neededTypes.get(diskimage.name);
    if (!types) {
      for (const r of requests) plan.droppedRequests.push({ id: r.id, why: `no provider lists ${diskimage.name}` });
      continue;
    }
    if (diskimage.pause) {
      for (const r of requests) plan.droppedRequests.push({ id: r.id, why: `${diskimage.name} is paused` });
      continue;
    }
    const builds = buildsOf(diskimage.name);
    // One build of a diskimage at a time; requests wait for the next one.
    if (builds.some((b) => b.state === 'building')) continue;
    const newestReady = builds.find((b) => b.state === 'ready');
    const requestIds = requests.map((r) => r.id);
    let why: string | undefined;
    if (requestIds.length > 0) why = 'requested';
    else if (!newestReady) why = 'no ready build';
    else if (now - newestReady.stateTime >= diskimage.rebuildAge * 1000) why = `newest build older than ${diskimage.rebuildAge} s`;
    else {
      const missing = [...types].filter((t) => !newestReady.formats.includes(t));
      if (missing.length > 0) why = `newest build lacks ${missing.join(', ')}`;
    }
    if (why === undefined) continue;
    const newestFailed = builds.find((b) => b.state === 'failed');
    const failedSinceReady = newestFailed && (!newestReady || newestNewer(newestFailed, newestReady));
    if (requestIds.length === 0 && failedSinceReady && now - newestFailed.stateTime < input.buildRetryMs) continue;
    plan.builds.push({ image: diskimage.name, requestIds, why });
  }
  for (const r of input.requests) {
    if (!diskimages.has(r.image)) plan.droppedRequests.push({ id: r.id, why: `no diskimage ${r.image} in the configuration` });
  }

  // Uploads: the newest ready build of each diskimage goes to every live provider listing it.
  for (const provider of liveProviders) {
    for (const image of provider.images) {
      if (image.pause || !diskimages.has(image.diskimage)) continue;
      const newest = readyBuildsOf(image.diskimage)[0];
      if (!newest || !newest.formats.includes(provider.imageType)) continue;
      // A person deleted this build's upload here: nodes stay on the previous upload until a newer build.
      if (newest.withdrawnFrom.includes(withdrawnKey(provider.name, image.name))) continue;
      const exists = input.uploads.some(
        (u) => u.buildId === newest.id && u.provider === provider.name && u.image === image.name && u.state !== 'deleting',
      );
      if (!exists) plan.uploads.push({ buildId: newest.id, provider: provider.name, image: image.name });
    }
  }

  // Upload retention, per (provider image, provider).
  const deletedUploads = new Set<number>();
  const deleteUpload = (upload: ImageUploadRecord, why: string) => {
    if (upload.state === 'deleting' || upload.state === 'uploading' || deletedUploads.has(upload.id)) return;
    deletedUploads.add(upload.id);
    plan.deleteUploads.push({ id: upload.id, why });
  };
  const groups = new Map<string, ImageUploadRecord[]>();
  for (const upload of input.uploads) {
    const key = `${upload.provider}\u0000${upload.image}`;
    groups.set(key, [...(groups.get(key) ?? []), upload]);
  }
  for (const uploads of groups.values()) {
    uploads.sort(newestFirst);
    const first = uploads[0];
    if (!first) continue;
    const provider = config.providers.find((p) => p.name === first.provider);
    const entry = provider?.images.find((i) => i.name === first.image);
    const gone = !provider
      ? `provider ${first.provider} is no longer configured`
      : retired(provider)
        ? `provider ${first.provider} is retired`
        : !entry
          ? `${first.image} is no longer an image of ${first.provider}`
          : !diskimages.has(entry.diskimage)
            ? `diskimage ${entry.diskimage} is no longer configured`
            : undefined;
    for (const upload of uploads) {
      const build = buildsById.get(upload.buildId);
      if (gone) deleteUpload(upload, gone);
      else if (build?.state === 'deleting') deleteUpload(upload, `its build ${build.id} is being deleted`);
    }
    if (gone) continue;
    const ready = uploads.filter((u) => u.state === 'ready' && !deletedUploads.has(u.id));
    for (const old of ready.slice(KEEP_READY)) deleteUpload(old, `older than the ${KEEP_READY} newest ready uploads`);
    const newestReadyUpload = ready[0];
    const newestBuild = entry ? readyBuildsOf(entry.diskimage)[0] : undefined;
    for (const upload of uploads.filter((u) => u.state === 'failed')) {
      if (newestReadyUpload && newestNewer(newestReadyUpload, upload)) deleteUpload(upload, 'a newer upload is ready');
      else if (newestBuild && upload.buildId !== newestBuild.id) deleteUpload(upload, `build ${newestBuild.id} supersedes it`);
    }
  }

  // Build retention, per diskimage: the two newest ready builds, and any build a kept upload still refers to.
  const keptUploadBuilds = new Set(
    input.uploads.filter((u) => u.state !== 'deleting' && !deletedUploads.has(u.id)).map((u) => u.buildId),
  );
  const images = new Set(input.builds.map((b) => b.image));
  for (const image of images) {
    const builds = buildsOf(image);
    const deleteBuild = (build: ImageBuildRecord, why: string) => {
      if (build.state === 'ready' || build.state === 'failed') plan.deleteBuilds.push({ id: build.id, why });
    };
    if (!diskimages.has(image)) {
      for (const build of builds) deleteBuild(build, `diskimage ${image} is no longer configured`);
      continue;
    }
    const ready = builds.filter((b) => b.state === 'ready');
    for (const old of ready.slice(KEEP_READY)) {
      if (!keptUploadBuilds.has(old.id)) deleteBuild(old, `older than the ${KEEP_READY} newest ready builds`);
    }
    // The newest failed build stays (its log explains it, and it paces the retry) until a newer one is ready.
    const failed = builds.filter((b) => b.state === 'failed');
    for (const [index, build] of failed.entries()) {
      const superseded = ready[0] !== undefined && newestNewer(ready[0], build);
      if (index > 0 || superseded) deleteBuild(build, superseded ? 'a newer build is ready' : 'a newer build failed too');
    }
  }
  return plan;
}

function newestNewer(a: { createdAt: number; id: number }, b: { createdAt: number; id: number }): boolean {
  return a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id);
}
