/**
 * The builder in one process, end to end with its real parts: the survey and
 * leases on SQLite and MariaDB, config/fake-image-create as disk-image-create,
 * and simulated clouds in state files (read back as another process would).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { ImageBuilder } from '../../src/builder/index.js';
import type { Database, ImageBuildRecord, ImageUploadRecord } from '../../src/db/index.js';
import { FAKE_IMAGE_CREATE, tempDir } from '../support/config-files.js';
import { describeEachBackend } from '../support/databases.js';
import { startHarness, stopHarnesses } from '../support/harness.js';
import { waitFor } from '../support/daemon.js';
import { cloudState } from '../support/fake-cloud-state.js';

interface ProviderSpec {
  name: string;
  imageType?: string;
  maxServers?: number;
  images?: Record<string, unknown>[];
  uploadFailureRate?: number;
}

interface Setup {
  dir: string;
  dburi: string;
  providers?: ProviderSpec[];
  diskimages?: Record<string, unknown>[];
}

const stateFile = (dir: string, provider: string) => join(dir, `${provider}.json`);

function builderConfig(setup: Setup): Record<string, unknown> {
  const providers = setup.providers ?? [{ name: 'fake-a' }, { name: 'fake-b', imageType: 'raw' }];
  const withDebian = providers.filter((p) => (p.images ?? [{ name: 'debian' }]).some((i) => i.name === 'debian'));
  return {
    dburi: setup.dburi,
    'images-dir': join(setup.dir, 'images'),
    // The builder has no use for labels; one is required, and disabled (-1) when no provider has its image.
    labels: [{ name: 'small', image: 'debian', 'min-ready': withDebian.length > 0 ? 0 : -1, providers: withDebian.map((p) => ({ name: p.name })) }],
    providers: providers.map((p) => ({
      name: p.name,
      driver: 'fake',
      'max-servers': p.maxServers ?? 10,
      rate: 0.001,
      'image-type': p.imageType ?? 'qcow2',
      fake: {
        'state-file': stateFile(setup.dir, p.name),
        latency: { create: 0.01, active: 0.01, delete: 0.01, upload: 0.05 },
        'failure-rate': { upload: p.uploadFailureRate ?? 0 },
      },
      images: p.images ?? [{ name: 'debian', 'min-ram': 1024, meta: { purpose: 'ci' } }],
    })),
    targets: [{ name: 'local' }],
    diskimages: setup.diskimages ?? [{ name: 'debian', elements: ['debian-minimal'], release: 'bookworm', 'dib-cmd': FAKE_IMAGE_CREATE }],
  };
}

afterEach(async () => {
  await stopHarnesses();
});

/** A running builder over the configuration `setup` describes, with timings in tens of milliseconds. */
async function startBuilder(setup: Setup, db: Database) {
  const harness = await startHarness({
    db,
    dir: setup.dir,
    config: builderConfig(setup),
    clock: 'real',
    nodepoold: false,
    builder: {
      buildWorkers: 1,
      uploadWorkers: 4,
      hostname: 'builder-host',
      tuning: {
        tickMs: 20,
        surveyIntervalMs: 50,
        leaseTtlMs: 10_000,
        buildRetryMs: 60_000,
        uploadRetry: { baseBackoffMs: 50, maxBackoffMs: 200 },
      },
    },
  });
  const builder = harness.builder as ImageBuilder;
  const reconfigure = (changed: Omit<Setup, 'dburi'>) => harness.rewrite(builderConfig({ ...changed, dburi: setup.dburi }), { apply: true });
  const logText = () => harness.lines.filter((l) => l.level !== 'debug').map((l) => JSON.stringify(l)).join('\n');
  /** Resolves once `count` more surveys have run: long enough to see that nothing more is planned. */
  const surveys = (count: number) => {
    const target = builder.surveysDone + count;
    return waitFor(`${count} more surveys`, () => builder.surveysDone >= target);
  };
  return { builder, reconfigure, logText, surveys };
}

describeEachBackend('image builder in one process', (backend) => {
  let db: Database;

  async function running(setup: Omit<Setup, 'dburi'>) {
    db ??= await backend.open();
    return startBuilder({ ...setup, dburi: backend.uri }, db);
  }

  // The tests share the suite's database: each starts from no builds, uploads or requests.
  afterEach(async () => {
    if (!db) return;
    await stopHarnesses();
    for (const upload of await db.uploads.list()) await db.uploads.delete(upload.id);
    for (const build of await db.builds.list()) await db.builds.delete(build.id);
    for (const request of await db.buildRequests.listPending()) await db.buildRequests.markHandled(request.id);
  });

  const readyUploads = async (count: number) =>
    waitFor(`${count} ready uploads`, async () => {
      const uploads = await db.uploads.list({ states: ['ready'] });
      return uploads.length === count ? uploads : undefined;
    });
  const readyBuilds = async (count: number) =>
    waitFor(`${count} ready builds`, async () => {
      const builds = await db.builds.list({ states: ['ready'] });
      return builds.length === count ? builds : undefined;
    });
  const cloudImages = (dir: string, provider: string) => cloudState(stateFile(dir, provider)).images;

  it('builds a diskimage in every provider type and uploads it everywhere with its properties', async () => {
    const dir = tempDir();
    const { surveys } = await running({ dir });
    const [build] = (await readyBuilds(1)) as [ImageBuildRecord];
    expect(build).toMatchObject({ image: 'debian', builder: 'builder-host', formats: ['qcow2', 'raw'] });
    for (const ext of ['qcow2', 'qcow2.md5', 'qcow2.sha256', 'raw', 'log']) {
      expect(existsSync(join(dir, 'images', `debian-${build.id}.${ext}`)), ext).toBe(true);
    }
    const uploads = await readyUploads(2);
    for (const upload of uploads) {
      const [image, ...others] = cloudImages(dir, upload.provider);
      expect(others).toEqual([]);
      expect(image).toMatchObject({
        id: upload.externalId,
        name: upload.externalName,
        diskFormat: upload.provider === 'fake-b' ? 'raw' : 'qcow2',
        properties: { purpose: 'ci', nodepool_build_id: String(build.id), nodepool_upload_id: String(upload.id) },
      });
      expect(upload.externalName).toMatch(/^template-debian-\d{10}$/);
    }
    // Nothing more is due: one build, one upload per provider.
    await surveys(4);
    expect(await db.builds.list()).toHaveLength(1);
    expect(await db.uploads.list()).toHaveLength(2);
  });

  it('builds again on request, uses the newest, and keeps only the two newest builds and uploads', async () => {
    const dir = tempDir();
    await running({ dir, providers: [{ name: 'fake-a' }] });
    await readyUploads(1);
    for (const round of [2, 3]) {
      await db.buildRequests.create('debian');
      // The requested build is the newest one, and its upload is ready.
      await waitFor(`build ${round} and its upload`, async () => {
        const newest = (await db.builds.list())[0];
        if (newest?.id !== round || newest.state !== 'ready') return false;
        return (await db.uploads.list({ states: ['ready'] })).some((u) => u.buildId === round);
      });
    }
    const builds = await waitFor('retention to leave two builds', async () => {
      const all = await db.builds.list();
      return all.length === 2 && all.every((b) => b.state === 'ready') ? all : undefined;
    });
    const uploads = await waitFor('retention to leave two uploads', async () => {
      const all = await db.uploads.list();
      return all.length === 2 && all.every((u) => u.state === 'ready') ? all : undefined;
    });
    expect(uploads.map((u) => u.buildId).sort()).toEqual(builds.map((b) => b.id).sort());
    // The first build's image left the cloud, its files left the disk.
    const images = await waitFor('the cloud to hold two images', () => {
      const list = cloudImages(dir, 'fake-a');
      return list.length === 2 ? list : undefined;
    });
    expect(images.map((i) => i.id).sort()).toEqual(uploads.map((u) => u.externalId).sort());
    const files = readdirSync(join(dir, 'images')).filter((f) => !f.startsWith('.'));
    expect(files.filter((f) => f.endsWith('.qcow2')).sort()).toEqual(builds.map((b) => `debian-${b.id}.qcow2`).sort());
    expect(files.some((f) => f.startsWith('debian-1.'))).toBe(false);
  });

  it('a failed build keeps its log, uploads nothing, and waits before the next attempt', async () => {
    const dir = tempDir();
    const { logText, surveys } = await running({
      dir,
      diskimages: [{ name: 'debian', elements: ['debian-minimal'], 'dib-cmd': FAKE_IMAGE_CREATE, 'env-vars': { FAKE_DIB_FAIL: '1' } }],
    });
    const failed = await waitFor('a failed build', async () => (await db.builds.list({ states: ['failed'] }))[0]);
    const log = readFileSync(join(dir, 'images', `debian-${failed.id}.log`), 'utf8');
    expect(log).toContain('build failed (FAKE_DIB_FAIL)');
    expect(existsSync(join(dir, 'images', `debian-${failed.id}.qcow2`))).toBe(false);
    await waitFor('the failure to be logged', () => logText().includes(`build ${failed.id} failed`));
    await surveys(4);
    expect(await db.builds.list()).toHaveLength(1);
    expect(await db.uploads.list()).toEqual([]);
  });

  it('a failed upload is retried with back-off until it succeeds', async () => {
    const dir = tempDir();
    const setup = { dir, providers: [{ name: 'fake-a', uploadFailureRate: 1 }] };
    const { reconfigure, logText } = await running(setup);
    await waitFor('two failed upload attempts', () => (logText().match(/upload \d+ failed: fake-a: Glance upload/g) ?? []).length >= 2).catch((e: Error) => {
      throw new Error(`${e.message}\n${logText().slice(-4000)}`);
    });
    // Between two attempts the record says failed (its write lands a moment after the log line).
    await waitFor('the upload recorded as failed', async () => (await db.uploads.list())[0]?.state === 'failed');
    reconfigure({ dir, providers: [{ name: 'fake-a', uploadFailureRate: 0 }] });
    const [upload] = (await readyUploads(1)) as [ImageUploadRecord];
    expect(await db.uploads.list()).toHaveLength(1);
    expect(cloudImages(dir, 'fake-a').map((i) => i.id)).toEqual([upload.externalId]);
  });

  it('cleans up uploads of an image a provider dropped, of a retired provider, and everything of a removed diskimage', async () => {
    const dir = tempDir();
    const { reconfigure } = await running({ dir, providers: [{ name: 'fake-a' }, { name: 'fake-b' }, { name: 'fake-c' }] });
    await readyUploads(3);
    reconfigure({
      dir,
      providers: [
        { name: 'fake-a' },
        { name: 'fake-b', images: [] },
        { name: 'fake-c', maxServers: -1 },
      ],
    });
    await waitFor('uploads to fake-b and fake-c deleted', async () => (await db.uploads.list()).length === 1);
    expect(cloudImages(dir, 'fake-b')).toEqual([]);
    expect(cloudImages(dir, 'fake-c')).toEqual([]);
    expect(cloudImages(dir, 'fake-a')).toHaveLength(1);

    // The diskimage leaves the configuration (and so every provider's images).
    reconfigure({ dir, providers: [{ name: 'fake-a', images: [] }], diskimages: [] });
    await waitFor('every build and upload deleted', async () => (await db.builds.list()).length + (await db.uploads.list()).length === 0);
    expect(cloudImages(dir, 'fake-a')).toEqual([]);
    expect(readdirSync(join(dir, 'images')).filter((f) => !f.startsWith('.'))).toEqual([]);
  });

  it('builds nothing of a paused diskimage and uploads nowhere an image entry is paused', async () => {
    const dir = tempDir();
    const { reconfigure, surveys } = await running({
      dir,
      diskimages: [{ name: 'debian', elements: ['debian-minimal'], 'dib-cmd': FAKE_IMAGE_CREATE, pause: true }],
    });
    await surveys(4);
    expect(await db.builds.list()).toEqual([]);
    reconfigure({
      dir,
      providers: [{ name: 'fake-a' }, { name: 'fake-b', images: [{ name: 'debian', 'min-ram': 1024, pause: true }] }],
    });
    const [upload] = (await readyUploads(1)) as [ImageUploadRecord];
    expect(upload.provider).toBe('fake-a');
    await surveys(4);
    expect(await db.uploads.list()).toHaveLength(1);
  });

  it('a build a person deletes loses its uploads, then its files, then its record', async () => {
    const dir = tempDir();
    await running({ dir });
    const [build] = (await readyBuilds(1)) as [ImageBuildRecord];
    await readyUploads(2);
    await db.transaction(async (tx) => {
      await tx.builds.markDeleting(build.id);
      for (const u of await tx.uploads.list({ buildId: build.id })) await tx.uploads.markDeleting(u.id);
    });
    await waitFor('the build record to go', async () => (await db.builds.get(build.id)) === undefined);
    expect(await db.uploads.list({ buildId: build.id })).toEqual([]);
    // (With no ready build left, a new one is due at once: only this build's images must be gone.)
    const ofBuild = (provider: string) => cloudImages(dir, provider).filter((i) => i.properties.nodepool_build_id === String(build.id));
    expect(ofBuild('fake-a')).toEqual([]);
    expect(ofBuild('fake-b')).toEqual([]);
    expect(readdirSync(join(dir, 'images')).filter((f) => f.startsWith(`debian-${build.id}.`))).toEqual([]);
  });
});
