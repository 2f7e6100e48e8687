/**
 * The rows of `dib-image-list` (builds) and `image-list` (uploads), as text
 * tables and as JSON, shared by the commands and the status web server so
 * both print the same thing for the same records.
 */
import type { ImageBuildRecord, ImageUploadRecord } from '../db/records.js';
import { formatAge, renderTable } from './table.js';

export const BUILD_COLUMNS = ['ID', 'Image', 'Builder', 'Formats', 'State', 'Age'] as const;
export const UPLOAD_COLUMNS = [
  'Build ID', 'Upload ID', 'Provider', 'Image', 'Provider Image Name', 'Provider Image ID', 'State', 'Age',
] as const;

/** The name dib-image-list shows and dib-image-delete takes: `<image>-<build id>`. */
export function buildName(build: Pick<ImageBuildRecord, 'image' | 'id'>): string {
  return `${build.image}-${build.id}`;
}

/** The repositories list newest first; a listing reads better oldest first, as ids grow. */
export function oldestFirst<T extends { id: number }>(records: readonly T[]): T[] {
  return [...records].sort((a, b) => a.id - b.id);
}

/** A build as `dib-image-list --json` (and the web app's .json) prints it. */
export function buildJson(build: ImageBuildRecord, now: number) {
  return {
    id: buildName(build),
    image: build.image,
    builder: build.builder,
    formats: build.formats,
    state: build.state,
    age: formatAge(build.stateTime, now),
  };
}

export function buildTable(builds: readonly ImageBuildRecord[], now: number): string {
  return renderTable(
    BUILD_COLUMNS,
    builds.map((b) => [buildName(b), b.image, b.builder, b.formats.join(','), b.state, formatAge(b.stateTime, now)]),
  );
}

/** An upload as `image-list --json` (and the web app's .json) prints it. */
export function uploadJson(upload: ImageUploadRecord, now: number) {
  return {
    build_id: upload.buildId,
    upload_id: upload.id,
    provider: upload.provider,
    image: upload.image,
    provider_image_name: upload.externalName,
    provider_image_id: upload.externalId,
    state: upload.state,
    age: formatAge(upload.stateTime, now),
  };
}

export function uploadTable(uploads: readonly ImageUploadRecord[], now: number): string {
  return renderTable(
    UPLOAD_COLUMNS,
    uploads.map((u) => [
      u.buildId, u.id, u.provider, u.image, u.externalName, u.externalId, u.state, formatAge(u.stateTime, now),
    ]),
  );
}
