/**
 * The image commands (docs/behaviour.md, "Images"): listings of builds and uploads,
 * `image-build` (a request a builder picks up), and the two deletes, which only
 * mark records `deleting`; nodepool-builder deletes the provider images, the
 * files and then the records. All of them work with the daemons stopped.
 */
import type { NodepoolConfig } from '../../config/types.js';
import type { Database, ImageBuildRecord, Repositories } from '../../db/index.js';
import { CommandFailure } from '../failure.js';
import type { Output } from '../output.js';
import { buildJson, buildName, buildTable, oldestFirst, uploadJson, uploadTable } from '../../listings/image-rows.js';
import { jsonRows } from '../../listings/json.js';
import type { ListingOptions } from './nodes.js';

// ---- listings ----------------------------------------------------------------

export async function listBuilds(db: Database, out: Output, options: ListingOptions): Promise<void> {
  const builds = oldestFirst(await db.builds.list());
  const now = Date.now();
  out.out(options.json ? jsonRows(builds.map((b) => buildJson(b, now))) : buildTable(builds, now));
}

export async function listUploads(db: Database, out: Output, options: ListingOptions): Promise<void> {
  const uploads = oldestFirst(await db.uploads.list());
  const now = Date.now();
  out.out(options.json ? jsonRows(uploads.map((u) => uploadJson(u, now))) : uploadTable(uploads, now));
}

// ---- image-build -------------------------------------------------------------

/**
 * Why a build of `image` would never happen, or undefined when it can: the
 * builder builds only a configured, unpaused diskimage that some provider in
 * use lists (docs/behaviour.md, "Images"), so a request for anything else would sit
 * unanswered.
 */
export function buildRefusal(config: NodepoolConfig, configFile: string, image: string): string | undefined {
  const diskimage = config.diskimages.find((d) => d.name === image);
  if (!diskimage) {
    const known = config.diskimages.map((d) => d.name);
    const names = known.length > 0 ? `known diskimages: ${known.join(', ')}` : 'it defines no diskimages';
    return `No diskimage named ${image} in ${configFile}; ${names}.`;
  }
  if (diskimage.pause) return `Diskimage ${image} is paused in ${configFile}; remove its pause to build it.`;
  const listed = config.providers.some((p) => p.maxServers !== -1 && p.images.some((i) => i.diskimage === image));
  if (!listed) {
    return `No provider in ${configFile} lists diskimage ${image} (providers with max-servers -1 do not count), so it is never built.`;
  }
  return undefined;
}

/** `image-build IMAGE`: a request row that a builder takes within its poll interval. */
export async function requestBuild(
  db: Database,
  config: NodepoolConfig,
  configFile: string,
  out: Output,
  image: string,
): Promise<void> {
  const refusal = buildRefusal(config, configFile, image);
  if (refusal) throw new CommandFailure(refusal);
  const request = await db.transaction(async (tx) => {
    const created = await tx.buildRequests.create(image);
    await tx.changes.append('build-request', created.id, 'create');
    return created;
  });
  out.out(`Build of ${image} requested (request ${request.id}); a builder starts it within seconds.`);
}

// ---- image-delete ------------------------------------------------------------

export interface UploadSelector {
  provider: string;
  image: string;
  buildId: number;
  uploadId: number;
}

/**
 * `image-delete`: marks one upload `deleting`. The three other options must
 * agree with the upload, so a mistyped id cannot delete the wrong image.
 */
export async function deleteUpload(db: Database, out: Output, selector: UploadSelector): Promise<void> {
  const { uploadId: id } = selector;
  const message = await db.transaction(async (tx) => {
    const upload = await tx.uploads.get(id);
    if (!upload) throw new CommandFailure(`Upload ${id} not found.`);
    if (upload.provider !== selector.provider) {
      throw new CommandFailure(`Upload ${id} is in provider ${upload.provider}, not ${selector.provider}.`);
    }
    if (upload.image !== selector.image) {
      throw new CommandFailure(`Upload ${id} is of image ${upload.image}, not ${selector.image}.`);
    }
    if (upload.buildId !== selector.buildId) {
      throw new CommandFailure(`Upload ${id} belongs to build ${upload.buildId}, not ${selector.buildId}.`);
    }
    if (upload.state === 'deleting') return `Upload ${id} is already being deleted.`;
    if (upload.state === 'uploading') {
      throw new CommandFailure(`Upload ${id} is in progress (uploading); delete it once it has finished.`);
    }
    if (!(await tx.uploads.markDeleting(id))) throw changedMeanwhile(`Upload ${id}`);
    // The builder must not upload this build there again, or nodes would never go back to the previous upload.
    await tx.builds.withdraw(upload.buildId, upload.provider, upload.image);
    await tx.changes.append('upload', id, 'delete');
    return `Upload ${id} (${upload.image} in ${upload.provider}) marked for deletion; nodepool-builder deletes the provider image and then the record. Build ${upload.buildId} is not uploaded there again.`;
  });
  out.out(message);
}

// ---- dib-image-delete --------------------------------------------------------

/** The build id in `<image>-<build id>` or a bare id; undefined for anything else. */
function parseBuildName(name: string): { id: number; image?: string } | undefined {
  if (/^\d+$/.test(name)) return { id: Number(name) };
  const match = /^(.+)-(\d+)$/.exec(name);
  return match ? { image: match[1], id: Number(match[2]) } : undefined;
}

async function existingBuild(tx: Pick<Repositories, 'builds'>, name: string): Promise<ImageBuildRecord> {
  const parsed = parseBuildName(name);
  const build = parsed && (await tx.builds.get(parsed.id));
  // `debian-7` must name build 7 of debian, not build 7 of whatever image it is.
  if (!build || (parsed?.image !== undefined && parsed.image !== build.image)) {
    throw new CommandFailure(`Build ${name} not found.`);
  }
  return build;
}

/**
 * `dib-image-delete ID`: marks the build and, in the same transaction, each of
 * its finished uploads `deleting`. The builder deletes the provider images,
 * then the files, then the build record; an upload still `uploading` is left
 * to finish and is deleted by the builder afterwards.
 */
export async function deleteBuild(db: Database, out: Output, name: string): Promise<void> {
  const message = await db.transaction(async (tx) => {
    const build = await existingBuild(tx, name);
    const shown = buildName(build);
    if (build.state === 'deleting') return `Build ${shown} is already being deleted.`;
    if (build.state === 'building') {
      throw new CommandFailure(`Build ${shown} is in progress (building); delete it once it has finished.`);
    }
    if (!(await tx.builds.markDeleting(build.id))) throw changedMeanwhile(`Build ${shown}`);
    await tx.changes.append('build', build.id, 'delete');
    let marked = 0;
    for (const upload of await tx.uploads.list({ buildId: build.id, states: ['ready', 'failed'] })) {
      if (await tx.uploads.markDeleting(upload.id)) {
        await tx.changes.append('upload', upload.id, 'delete');
        marked += 1;
      }
    }
    return `Build ${shown} marked for deletion, with ${marked} upload${marked === 1 ? '' : 's'}; nodepool-builder deletes the provider images, then the files, then the record.`;
  });
  out.out(message);
}

/** A conditional mark that found the record in another state than just read: a daemon moved it. */
function changedMeanwhile(what: string): CommandFailure {
  return new CommandFailure(`${what} changed state meanwhile; nothing was changed, try again.`);
}
