/**
 * nodepool-builder killed with SIGKILL in the middle of a build and of an
 * upload: started again, it takes the work over once the dead process's
 * lease lapses and resumes each actor from the snapshot saved before the
 * kill (the same build and upload, their saved state carried on), as
 * nodepoold resumes its nodes. Real processes over a simulated cloud in a
 * state file, with the builder's timings shortened through the environment.
 */
import { join } from 'node:path';
import { afterEach, beforeAll, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { tempDir, writeConfigFile } from '../support/config-files.js';
import { clearAll, describeEachBackend } from '../support/databases.js';
import { startBuilder, waitFor, type RunningDaemon } from '../support/daemon.js';
import { cloudState } from '../support/fake-cloud-state.js';
import { oneProviderConfig } from '../support/one-provider.js';

const TUNING = { NODEPOOL_BUILDER_TICK_SECONDS: '0.2', NODEPOOL_BUILDER_SURVEY_SECONDS: '0.5', NODEPOOL_BUILDER_LEASE_SECONDS: '3' };

const running: RunningDaemon[] = [];
afterEach(async (context) => {
  const failed = context.task.result?.state === 'fail';
  for (const daemon of running.splice(0)) {
    if (failed) console.error(`nodepool-builder ${daemon.pid} said last:\n${daemon.tail()}`);
    await daemon.stop('SIGTERM', 10_000).catch(() => daemon.kill());
  }
});

function writeConfig(dir: string, dburi: string, o: { sleep: number; upload: number }): string {
  return writeConfigFile(dir, oneProviderConfig(dir, dburi, { buildSeconds: o.sleep, latency: { upload: o.upload } }));
}

interface Saved {
  value: unknown;
  context: { startedAt?: number };
}

describeEachBackend('nodepool-builder killed and started again', (backend) => {
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });
  afterEach(async () => {
    await clearAll(db);
  });

  const builder = (configFile: string) => {
    const daemon = startBuilder(['-c', configFile], TUNING);
    running.push(daemon);
    return daemon;
  };
  const saved = async (actorId: string) => (await db.snapshots.get(actorId))?.snapshot as Saved | undefined;
  const resumed = (d: RunningDaemon, actorId: string) => d.waitForLog(`${actorId} resumed`, (l) => l.msg === `${actorId} resumes from its saved state`, 20_000);

  it('resumes the build and the upload it had in flight from their snapshots', { timeout: 90_000 }, async () => {
    const dir = tempDir();
    const configFile = writeConfig(dir, backend.uri, { sleep: 4, upload: 4 });

    // Killed mid-build.
    const first = builder(configFile);
    const build = await waitFor('a build under way', async () => (await db.builds.list({ states: ['building'] }))[0]);
    const buildBefore = await waitFor('its snapshot saved', async () => ((await saved(`build-${build.id}`))?.value === 'building' ? saved(`build-${build.id}`) : undefined));
    await first.kill();

    // Started again: the lease of the dead process lapses, and the same build goes on from its snapshot.
    const second = builder(configFile);
    await resumed(second, `build-${build.id}`);
    expect((await saved(`build-${build.id}`))?.context.startedAt).toBe(buildBefore?.context.startedAt);
    // Killed mid-upload.
    const upload = await waitFor('an upload under way', async () => {
      const [record] = await db.uploads.list({ states: ['uploading'] });
      return record && (await saved(`upload-${record.id}`))?.value === 'uploading' ? record : undefined;
    }, { timeoutMs: 30_000 });
    await second.kill();

    const third = builder(configFile);
    await resumed(third, `upload-${upload.id}`);
    await waitFor('the upload ready', async () => (await db.uploads.get(upload.id))?.state === 'ready', { timeoutMs: 30_000 });

    // The same build and upload, no others; one image in the cloud for the upload, nothing leaked.
    expect((await db.builds.list()).map((b) => [b.id, b.state])).toEqual([[build.id, 'ready']]);
    expect((await db.uploads.list()).map((u) => u.id)).toEqual([upload.id]);
    const images = cloudState(join(dir, 'fake-a.json')).images.filter((i) => i.properties.nodepool_upload_id === String(upload.id));
    expect(images.map((i) => i.id)).toEqual([(await db.uploads.get(upload.id))?.externalId]);
    expect(third.lines.filter((l) => /^building debian \(build \d+\)$/.test(l.msg))).toEqual([]);
    expect([first, second, third].flatMap((d) => d.lines.filter((l) => l.level === 'error' || l.level === 'fatal'))).toEqual([]);
  });
});
