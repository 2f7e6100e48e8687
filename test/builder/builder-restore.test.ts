/**
 * Builds and uploads resume from their saved snapshots when their builder
 * stops and starts again, as nodes do: the builder in this process (real
 * time: config/fake-image-create runs as disk-image-create), on SQLite and
 * MariaDB.
 */
import { beforeEach, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { tempDir } from '../support/config-files.js';
import { describeEachBackend } from '../support/databases.js';
import { harnessDatabase, startHarness } from '../support/harness.js';
import { oneProviderConfig } from '../support/one-provider.js';

const TUNING = { tickMs: 20, surveyIntervalMs: 50, leaseTtlMs: 10_000, buildRetryMs: 60_000, uploadRetry: { baseBackoffMs: 200, maxBackoffMs: 400 } };

const config = (dir: string, dburi: string, o: { sleep?: number; uploadFailureRate?: number } = {}) =>
  oneProviderConfig(dir, dburi, { buildSeconds: o.sleep ?? 0, failureRate: { upload: o.uploadFailureRate ?? 0 } });

interface Saved {
  value: unknown;
  context: { startedAt?: number; attempts?: number };
}

describeEachBackend('a builder stopped and started again', (backend) => {
  const database = harnessDatabase(backend);
  let db: Database;
  beforeEach(() => {
    db = database();
  });

  const builder = (dir: string, o: Parameters<typeof config>[2] = {}) =>
    startHarness({ db, dir, config: config(dir, backend.uri, o), clock: 'real', nodepoold: false, builder: { buildWorkers: 1, uploadWorkers: 1, tuning: TUNING } });
  const saved = async (actorId: string) => (await db.snapshots.get(actorId))?.snapshot as Saved | undefined;

  it('resumes the build it had in flight from its snapshot: the same build, its deadline kept', async () => {
    const dir = tempDir();
    const first = await builder(dir, { sleep: 2 });
    const build = await first.until('a build under way', async () => (await db.builds.list({ states: ['building'] }))[0]);
    const before = await first.until('its snapshot saved', async () => {
      const snapshot = await saved(`build-${build.id}`);
      return snapshot?.value === 'building' ? snapshot : undefined;
    });
    await first.stop();

    const second = await builder(dir, { sleep: 0 });
    await second.until('the build resumed', () => second.logged(new RegExp(`^build-${build.id} resumes from its saved state$`))[0]);
    await second.until('the build ready', async () => (await db.builds.get(build.id))?.state === 'ready');
    expect((await db.builds.list()).map((b) => b.id)).toEqual([build.id]);
    expect((await saved(`build-${build.id}`))?.context.startedAt).toBe(before.context.startedAt);
  });

  it('resumes an upload retrying after failures with its attempts counted, and finishes it once the cloud takes it', async () => {
    const dir = tempDir();
    const first = await builder(dir, { uploadFailureRate: 1 });
    const upload = await first.until('an upload failed twice', async () => {
      const [record] = await db.uploads.list();
      return record && ((await saved(`upload-${record.id}`))?.context.attempts ?? 0) >= 2 ? record : undefined;
    });
    await first.stop();
    const attempts = (await saved(`upload-${upload.id}`))?.context.attempts ?? 0;

    const second = await builder(dir, { uploadFailureRate: 1 });
    await second.until('the upload resumed', () => second.logged(new RegExp(`^upload-${upload.id} resumes from its saved state$`))[0]);
    await second.until('one more failed attempt', async () => ((await saved(`upload-${upload.id}`))?.context.attempts ?? 0) > attempts);
    expect(second.logged((l) => l.upload === upload.id && / failed: /.test(l.msg)).map((l) => l.attempts)[0]).toBe(attempts + 1);

    second.rewrite(config(dir, backend.uri, { uploadFailureRate: 0 }), { apply: true });
    await second.until('the upload ready', async () => (await db.uploads.get(upload.id))?.state === 'ready');
    expect((await db.uploads.list()).map((u) => u.id)).toEqual([upload.id]);
  });
});
