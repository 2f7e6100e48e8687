import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { runExecutable } from '../support/cli.js';
import { minimalConfig, tempDir, writeConfigFile } from '../support/config-files.js';
import { clearAll, describeEachBackend } from '../support/databases.js';

/**
 * debian can be built; centos is paused; fedora is listed only by a retired
 * provider (max-servers -1) and ubuntu by none, so neither is ever built.
 */
function imageConfig(dburi: string): Record<string, unknown> {
  return minimalConfig({
    dburi,
    providers: [
      {
        name: 'fake-a',
        driver: 'fake',
        'max-servers': 4,
        images: [
          { name: 'debian', 'min-ram': 1024 },
          { name: 'centos-7', diskimage: 'centos', 'min-ram': 1024 },
        ],
      },
      { name: 'retired', driver: 'fake', 'max-servers': -1, images: [{ name: 'fedora', 'min-ram': 1024 }] },
    ],
    diskimages: [
      { name: 'debian', elements: ['debian-minimal'] },
      { name: 'centos', elements: ['centos-minimal'], pause: true },
      { name: 'fedora', elements: ['fedora-minimal'] },
      { name: 'ubuntu', elements: ['ubuntu-minimal'] },
    ],
  });
}

/** Seeded records changed state one day, two hours and three minutes ago: Age 01:02:03:SS. */
const AGE_MS = ((24 + 2) * 60 + 3) * 60 * 1000;
const AGE = /01:02:03:\d\d/;

describeEachBackend('nodepool image commands', (backend) => {
  let configFile: string;
  let db: Database;
  const nodepool = (...args: string[]) => runExecutable('nodepool', ['-c', configFile, ...args]);

  /** The rows nodepool-builder would have written: a ready build of debian uploaded to fake-a. */
  async function seedReadyImage() {
    const ago = Date.now() - AGE_MS;
    const build = await db.builds.create({
      image: 'debian', builder: 'nb01', filename: '/opt/nodepool/images/debian-1', formats: ['qcow2', 'raw'],
      state: 'ready', createdAt: ago, stateTime: ago,
    });
    const upload = await db.uploads.create({
      buildId: build.id, provider: 'fake-a', image: 'debian', externalName: 'debian-1700000000',
      externalId: 'img-0001', state: 'ready', createdAt: ago, stateTime: ago,
    });
    return { build, upload };
  }

  const changeRows = async () => (await db.changes.since(0)).map((c) => [c.kind, c.recordId, c.action]);

  beforeAll(async () => {
    configFile = writeConfigFile(tempDir(), imageConfig(backend.uri));
    db = await openDatabase(backend.uri);
  });
  beforeEach(async () => {
    await clearAll(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  // ---- listings --------------------------------------------------------------

  it('dib-image-list shows each build as <image>-<id> with its formats and age', async () => {
    const { build } = await seedReadyImage();
    const result = await nodepool('dib-image-list');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[1]).toMatch(/^\| ID +\| Image +\| Builder +\| Formats +\| State +\| Age +\|$/);
    expect(lines[3]).toMatch(new RegExp(`^\\| debian-${build.id} +\\| debian +\\| nb01 +\\| qcow2,raw +\\| ready +\\| ${AGE.source} +\\|$`));
    expect(lines).toHaveLength(5);
  });

  it('dib-image-list --json prints the same rows with snake_case keys', async () => {
    const { build } = await seedReadyImage();
    const result = await nodepool('dib-image-list', '--json');
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0] ?? {})).toEqual(['id', 'image', 'builder', 'formats', 'state', 'age']);
    expect(rows[0]).toMatchObject({ id: `debian-${build.id}`, image: 'debian', builder: 'nb01', formats: ['qcow2', 'raw'], state: 'ready' });
    expect(rows[0]?.age).toMatch(AGE);
  });

  it('image-list shows each upload with its build, provider and provider image', async () => {
    const { build, upload } = await seedReadyImage();
    const result = await nodepool('image-list');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[1]).toMatch(
      /^\| Build ID +\| Upload ID +\| Provider +\| Image +\| Provider Image Name +\| Provider Image ID +\| State +\| Age +\|$/,
    );
    expect(lines[3]).toMatch(
      new RegExp(`^\\| ${build.id} +\\| ${upload.id} +\\| fake-a +\\| debian +\\| debian-1700000000 +\\| img-0001 +\\| ready +\\| ${AGE.source} +\\|$`),
    );
    expect(lines).toHaveLength(5);
  });

  it('image-list --json prints the same rows with snake_case keys', async () => {
    const { build, upload } = await seedReadyImage();
    const result = await nodepool('image-list', '--json');
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(Object.keys(rows[0] ?? {})).toEqual([
      'build_id', 'upload_id', 'provider', 'image', 'provider_image_name', 'provider_image_id', 'state', 'age',
    ]);
    expect(rows).toEqual([
      {
        build_id: build.id, upload_id: upload.id, provider: 'fake-a', image: 'debian',
        provider_image_name: 'debian-1700000000', provider_image_id: 'img-0001', state: 'ready', age: expect.stringMatching(AGE),
      },
    ]);
  });

  // ---- image-build -------------------------------------------------------------

  it('image-build records a request and its change, and confirms', async () => {
    const result = await nodepool('image-build', 'debian');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const pending = await db.buildRequests.listPending();
    expect(pending.map((r) => r.image)).toEqual(['debian']);
    const id = pending[0]?.id as number;
    expect(result.stdout.trim()).toBe(`Build of debian requested (request ${id}); a builder starts it within seconds.`);
    expect(await changeRows()).toEqual([['build-request', id, 'create']]);
  });

  it('image-build refuses an unknown, a paused or an unlisted diskimage and writes nothing', async () => {
    const refusals: [string, string][] = [
      ['gentoo', `No diskimage named gentoo in ${configFile}; known diskimages: debian, centos, fedora, ubuntu.`],
      ['centos', `Diskimage centos is paused in ${configFile}; remove its pause to build it.`],
      ['fedora', `No provider in ${configFile} lists diskimage fedora (providers with max-servers -1 do not count), so it is never built.`],
      ['ubuntu', `No provider in ${configFile} lists diskimage ubuntu (providers with max-servers -1 do not count), so it is never built.`],
    ];
    for (const [image, message] of refusals) {
      const result = await nodepool('image-build', image);
      expect(result.code, image).toBe(1);
      expect(result.stderr.trim(), image).toBe(`nodepool: ${message}`);
      expect(result.stdout, image).toBe('');
    }
    expect(await db.buildRequests.listPending()).toEqual([]);
    expect(await changeRows()).toEqual([]);
  });

  // ---- image-delete ------------------------------------------------------------

  const imageDelete = (provider: string, image: string, buildId: number, uploadId: number) =>
    nodepool('image-delete', '--provider', provider, '--image', image, '--build-id', String(buildId), '--upload-id', String(uploadId));

  it('image-delete marks the upload deleting, logs the change and confirms', async () => {
    const { build, upload } = await seedReadyImage();
    const result = await imageDelete('fake-a', 'debian', build.id, upload.id);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(
      `Upload ${upload.id} (debian in fake-a) marked for deletion; nodepool-builder deletes the provider image and then the record. Build ${build.id} is not uploaded there again.`,
    );
    expect(await db.uploads.get(upload.id)).toMatchObject({ state: 'deleting' });
    expect((await db.uploads.get(upload.id))?.stateTime).toBeGreaterThan(upload.stateTime);
    expect(await db.builds.get(build.id)).toMatchObject({ state: 'ready', withdrawnFrom: ['fake-a/debian'] });
    expect(await changeRows()).toEqual([['upload', upload.id, 'delete']]);
  });

  it('image-delete refuses an unknown upload or one that does not match the options, changing nothing', async () => {
    const { build, upload } = await seedReadyImage();
    const cases: [[string, string, number, number], string][] = [
      [['fake-a', 'debian', build.id, upload.id + 100], `Upload ${upload.id + 100} not found.`],
      [['fake-b', 'debian', build.id, upload.id], `Upload ${upload.id} is in provider fake-a, not fake-b.`],
      [['fake-a', 'centos', build.id, upload.id], `Upload ${upload.id} is of image debian, not centos.`],
      [['fake-a', 'debian', build.id + 100, upload.id], `Upload ${upload.id} belongs to build ${build.id}, not ${build.id + 100}.`],
    ];
    for (const [args, message] of cases) {
      const result = await imageDelete(...args);
      expect(result.code, message).toBe(1);
      expect(result.stderr.trim()).toBe(`nodepool: ${message}`);
    }
    expect(await db.uploads.get(upload.id)).toEqual(upload);
    expect(await changeRows()).toEqual([]);
  });

  it('image-delete refuses an upload in progress', async () => {
    const { build } = await seedReadyImage();
    const uploading = await db.uploads.create({ buildId: build.id, provider: 'fake-a', image: 'debian' });
    const result = await imageDelete('fake-a', 'debian', build.id, uploading.id);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`nodepool: Upload ${uploading.id} is in progress (uploading); delete it once it has finished.`);
    expect(await db.uploads.get(uploading.id)).toEqual(uploading);
    expect(await changeRows()).toEqual([]);
  });

  it('image-delete of an upload already being deleted says so and exits 0', async () => {
    const { build, upload } = await seedReadyImage();
    await db.uploads.markDeleting(upload.id);
    const before = await db.uploads.get(upload.id);
    const result = await imageDelete('fake-a', 'debian', build.id, upload.id);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(`Upload ${upload.id} is already being deleted.`);
    expect(await db.uploads.get(upload.id)).toEqual(before);
    expect(await changeRows()).toEqual([]);
  });

  it('image-delete with a malformed id is a usage error', async () => {
    const result = await nodepool('image-delete', '--provider', 'fake-a', '--image', 'debian', '--build-id', '1', '--upload-id', 'x');
    expect(result.code).toBe(2);
  });

  // ---- dib-image-delete --------------------------------------------------------

  it('dib-image-delete <image>-<id> marks the build and its finished uploads deleting, in one go', async () => {
    const { build, upload } = await seedReadyImage();
    const up = { buildId: build.id, image: 'debian' };
    const failed = await db.uploads.create({ ...up, provider: 'fake-b', state: 'failed' });
    const uploading = await db.uploads.create({ ...up, provider: 'fake-c' });
    const other = await db.builds.create({ image: 'debian', state: 'ready' });
    const otherUpload = await db.uploads.create({ buildId: other.id, provider: 'fake-a', image: 'debian', state: 'ready' });

    const result = await nodepool('dib-image-delete', `debian-${build.id}`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(
      `Build debian-${build.id} marked for deletion, with 2 uploads; nodepool-builder deletes the provider images, then the files, then the record.`,
    );
    expect((await db.builds.get(build.id))?.state).toBe('deleting');
    expect((await db.uploads.get(upload.id))?.state).toBe('deleting');
    expect((await db.uploads.get(failed.id))?.state).toBe('deleting');
    // Still uploading: left to finish; the builder deletes it afterwards.
    expect((await db.uploads.get(uploading.id))?.state).toBe('uploading');
    expect((await db.builds.get(other.id))?.state).toBe('ready');
    expect((await db.uploads.get(otherUpload.id))?.state).toBe('ready');
    const changes = await changeRows();
    expect(changes[0]).toEqual(['build', build.id, 'delete']);
    expect(changes.slice(1).sort()).toEqual(
      [['upload', upload.id, 'delete'], ['upload', failed.id, 'delete']].sort(),
    );
  });

  it('dib-image-delete takes the bare build id too', async () => {
    const build = await db.builds.create({ image: 'debian', state: 'failed' });
    const result = await nodepool('dib-image-delete', String(build.id));
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(
      `Build debian-${build.id} marked for deletion, with 0 uploads; nodepool-builder deletes the provider images, then the files, then the record.`,
    );
    expect((await db.builds.get(build.id))?.state).toBe('deleting');
    expect(await changeRows()).toEqual([['build', build.id, 'delete']]);
  });

  it('dib-image-delete reads an image name with dashes in it', async () => {
    const build = await db.builds.create({ image: 'debian-bookworm', state: 'ready' });
    const result = await nodepool('dib-image-delete', `debian-bookworm-${build.id}`);
    expect(result.code).toBe(0);
    expect((await db.builds.get(build.id))?.state).toBe('deleting');
  });

  it('dib-image-delete refuses a build in progress and leaves its uploads alone', async () => {
    const building = await db.builds.create({ image: 'debian' });
    const result = await nodepool('dib-image-delete', `debian-${building.id}`);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`nodepool: Build debian-${building.id} is in progress (building); delete it once it has finished.`);
    expect(await db.builds.get(building.id)).toEqual(building);
    expect(await changeRows()).toEqual([]);
  });

  it('dib-image-delete of an unknown build, or of a build under another image name, is not found', async () => {
    const { build, upload } = await seedReadyImage();
    for (const name of [`debian-${build.id + 100}`, String(build.id + 100), `centos-${build.id}`, 'debian', 'latest']) {
      const result = await nodepool('dib-image-delete', name);
      expect(result.code, name).toBe(1);
      expect(result.stderr.trim(), name).toBe(`nodepool: Build ${name} not found.`);
    }
    expect(await db.builds.get(build.id)).toEqual(build);
    expect(await db.uploads.get(upload.id)).toEqual(upload);
    expect(await changeRows()).toEqual([]);
  });

  it('dib-image-delete of a build already being deleted says so and exits 0', async () => {
    const { build } = await seedReadyImage();
    await db.builds.markDeleting(build.id);
    const result = await nodepool('dib-image-delete', `debian-${build.id}`);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(`Build debian-${build.id} is already being deleted.`);
    expect(await changeRows()).toEqual([]);
  });
});
