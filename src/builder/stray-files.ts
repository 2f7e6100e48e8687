/**
 * Files in images-dir that no build on this host will finish or keep: left
 * by a builder that was killed mid-build (another builder redid the build,
 * or its record is gone). Run when a builder starts.
 */
import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Database } from '../db/index.js';
import { stopLeftoverBuild } from '../dib/index.js';
import { imageWorkLease } from '../core/leases.js';
import { buildActorId } from '../../machines/actor-ids.js';

/** `<diskimage>-<build id>.<anything>`: a file or directory a build wrote. */
const BUILD_FILE = /^(.+)-(\d+)\.[^/]+$/;

export async function removeStrayBuildFiles(imagesDir: string, db: Database, hostname: string): Promise<string[]> {
  const dir = resolve(imagesDir);
  const entries = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  // Pid files first: a tool an earlier (killed) builder left running must stop before its files go.
  entries.sort((a, b) => Number(b.endsWith('.pid')) - Number(a.endsWith('.pid')));
  for (const entry of entries) {
    const match = BUILD_FILE.exec(entry);
    if (!match || entry.startsWith('.')) continue;
    const [, image, id] = match as unknown as [string, string, string];
    const build = await db.builds.get(Number(id));
    const stray =
      !build ||
      build.image !== image ||
      (build.builder !== null && build.builder !== hostname) ||
      (build.state === 'building' && !(await db.leases.holder(imageWorkLease(buildActorId(build.id)))));
    if (!stray) continue;
    if (entry.endsWith('.pid')) await stopLeftoverBuild(join(dir, entry));
    await rm(join(dir, entry), { recursive: true, force: true });
    removed.push(entry);
  }
  return removed;
}
