/**
 * One real diskimage-builder build through nodepool-builder: Debian bookworm
 * from debian-minimal plus our nodepool-test-marker element, built by the real
 * disk-image-create and uploaded to a simulated cloud. Several minutes on two
 * cores; needs root or passwordless sudo, a free loop device and this
 * machine's Debian mirror (read from its apt sources). Run once, on SQLite:
 * the builder's database work is tested on both backends elsewhere.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/index.js';
import { tempDir, writeConfigFile } from '../support/config-files.js';
import { startBuilder, waitFor, type RunningDaemon } from '../support/daemon.js';
import { cloudState } from '../support/fake-cloud-state.js';
import {
  MARKER_FILE,
  TEST_ELEMENTS_DIR,
  describeWithRealDib,
  expectedMarker,
  isQcow2,
  mirrorEnv,
  readFileInQcow2,
  streamedChecksums,
} from '../support/real-dib.js';

/**
 * The build itself. Measured: 6.7-8 min on two cores while other test files
 * ran (the kernel's initramfs is generated twice, ~80 s each under load),
 * 2.5-3 min on an idle machine.
 */
const BUILD_TIMEOUT_MS = 15 * 60_000;
const MARKER = 'hello from nodepool';

let daemon: RunningDaemon | undefined;
let db: Database | undefined;
const dirs: string[] = [];
afterAll(async () => {
  await daemon?.stop('SIGTERM', 60_000).catch(() => daemon?.kill());
  await db?.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describeWithRealDib('a real disk-image-create build through nodepool-builder', () => {
  it('builds a bookworm qcow2 with checksums, a log and the marker inside, and uploads it', { timeout: BUILD_TIMEOUT_MS + 3 * 60_000 }, async () => {
    const dir = tempDir('nodepool-real-dib-');
    dirs.push(dir);
    const imagesDir = join(dir, 'images');
    const stateFile = join(dir, 'fake-a.json');
    const dburi = `sqlite://${join(dir, 'nodepool.db')}`;
    const configFile = writeConfigFile(dir, {
      dburi,
      'images-dir': imagesDir,
      'elements-dir': TEST_ELEMENTS_DIR,
      labels: [{ name: 'small', image: 'debian-test', 'min-ready': 0, providers: [{ name: 'fake-a' }] }],
      providers: [{
        name: 'fake-a',
        driver: 'fake',
        'max-servers': 2,
        fake: { 'state-file': stateFile, latency: { upload: 0.1 } },
        images: [{ name: 'debian-test', 'min-ram': 1024, meta: { purpose: 'ci' } }],
      }],
      targets: [{ name: 'local' }],
      diskimages: [{
        name: 'debian-test',
        release: 'bookworm',
        elements: ['debian-minimal', 'nodepool-test-marker'],
        'env-vars': { ...mirrorEnv('bookworm'), NODEPOOL_TEST_MARKER: MARKER },
      }],
    });
    db = await openDatabase(dburi);
    const started = Date.now();
    daemon = startBuilder(['-c', configFile], { NODEPOOL_BUILDER_SURVEY_SECONDS: '1' });
    const running = daemon;
    const tail = () => running.tail(60);

    const build = await waitFor('the build to end', async () => {
      const [b] = (await db?.builds.list()) ?? [];
      return b && b.state !== 'building' ? b : undefined;
    }, { timeoutMs: BUILD_TIMEOUT_MS, intervalMs: 1000 }).catch((e: Error) => {
      throw new Error(`${e.message}\n${tail()}`);
    });
    const built = Date.now();
    const base = join(imagesDir, `debian-test-${build.id}`);
    const log = existsSync(`${base}.log`) ? readFileSync(`${base}.log`, 'utf8') : '';
    expect(build.state, `the build failed; its log ends:\n${log.split('\n').slice(-40).join('\n')}`).toBe('ready');
    expect(build.formats).toEqual(['qcow2']);
    expect(log).toContain('Build completed successfully');
    expect(log).toContain(`Image file ${base}.qcow2 created...`);

    const qcow2 = `${base}.qcow2`;
    expect(await isQcow2(qcow2)).toBe(true);
    expect(readdirSync(imagesDir).filter((f) => f.startsWith('debian-test-')).sort()).toEqual(
      ['d', 'log', 'qcow2', 'qcow2.md5', 'qcow2.sha256'].map((ext) => `debian-test-${build.id}.${ext}`),
    );
    // DIB's own checksum files must match the file.
    const actual = await streamedChecksums(qcow2);
    expect(readFileSync(`${qcow2}.md5`, 'utf8').split(/\s+/)[0]).toBe(actual.md5);
    expect(readFileSync(`${qcow2}.sha256`, 'utf8').split(/\s+/)[0]).toBe(actual.sha256);
    expect(await readFileInQcow2(qcow2, MARKER_FILE)).toBe(expectedMarker('debian-test', MARKER));

    // The upload: the whole file reached the simulated cloud, with nodepool's properties.
    const upload = await waitFor('the upload', async () => (await db?.uploads.list({ states: ['ready'] }))?.[0], { timeoutMs: 120_000 })
      .catch((e: Error) => {
        throw new Error(`${e.message}\n${tail()}`);
      });
    const uploaded = Date.now();
    const [image] = cloudState(stateFile).images;
    expect(image).toMatchObject({
      id: upload.externalId,
      diskFormat: 'qcow2',
      sha256: actual.sha256,
      properties: { purpose: 'ci', nodepool_build_id: String(build.id), nodepool_upload_id: String(upload.id) },
    });
    console.log(
      `real build through nodepool-builder: built in ${((built - started) / 1000).toFixed(0)} s, ` +
        `uploaded ${((uploaded - built) / 1000).toFixed(1)} s later`,
    );
  });
});
