/**
 * One real diskimage-builder build (Debian bookworm, debian-minimal plus our
 * nodepool-test-marker element) through runDiskImageCreate. Several minutes
 * on two cores; needs root or passwordless sudo, a free loop device and
 * network access to this machine's Debian mirror.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, expect, it } from 'vitest';
import type { DiskImage } from '../../src/config/types.js';
import { dibInvocation } from '../../src/dib/command.js';
import { runDiskImageCreate } from '../../src/dib/run.js';
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
 * The build itself; the test gets two more minutes for its checks. Measured:
 * 6.7-8 min on two cores while other test files ran (the kernel's initramfs
 * is generated twice, ~80 s each under load), 2.5-3 min on an idle machine.
 */
const BUILD_TIMEOUT_MS = 15 * 60_000;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describeWithRealDib('a real disk-image-create build', () => {
  it('builds a bookworm qcow2 with checksums, a log and the marker element inside', { timeout: BUILD_TIMEOUT_MS + 2 * 60_000 }, async () => {
    const imagesDir = mkdtempSync(join(tmpdir(), 'nodepool-real-dib-'));
    dirs.push(imagesDir);
    const diskimage: DiskImage = {
      name: 'debian-test',
      elements: ['debian-minimal', 'nodepool-test-marker'],
      release: 'bookworm',
      rebuildAge: 86400,
      envVars: { ...mirrorEnv('bookworm'), NODEPOOL_TEST_MARKER: 'hello from nodepool' },
      pause: false,
      dibCmd: 'disk-image-create',
    };
    const invocation = dibInvocation({ diskimage, types: ['qcow2'], imagesDir, elementsDir: TEST_ELEMENTS_DIR, buildId: 1 });
    const logFile = `${invocation.outputBase}.log`;
    // Every output line goes to the log file; only trouble reaches the test output.
    const logger = pino({ level: 'warn' });

    const started = Date.now();
    const result = await runDiskImageCreate(invocation, { logger, logFile, timeoutMs: BUILD_TIMEOUT_MS });
    console.log(`real disk-image-create build: ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    expect(result, `build failed; last lines of ${logFile}:\n${log.split('\n').slice(-40).join('\n')}`).toMatchObject({ ok: true, exitCode: 0 });
    expect(log).toContain('Build completed successfully');
    expect(log).toContain(`Image file ${imagesDir}/debian-test-1.qcow2 created...`);

    const qcow2 = join(imagesDir, 'debian-test-1.qcow2');
    expect(result.formats).toEqual([expect.objectContaining({ type: 'qcow2', path: qcow2 })]);
    expect(await isQcow2(qcow2)).toBe(true);
    expect(readdirSync(imagesDir).filter((f) => f.startsWith('debian-test-1')).sort()).toEqual([
      'debian-test-1.d', 'debian-test-1.log', 'debian-test-1.qcow2', 'debian-test-1.qcow2.md5', 'debian-test-1.qcow2.sha256',
    ]);

    // The recorded checksums come from DIB's own .md5/.sha256 files; both must match the file.
    const [format] = result.formats;
    const actual = await streamedChecksums(qcow2);
    expect(format?.md5).toBe(actual.md5);
    expect(format?.sha256).toBe(actual.sha256);
    expect(readFileSync(`${qcow2}.md5`, 'utf8').split(/\s+/)[0]).toBe(actual.md5);
    expect(readFileSync(`${qcow2}.sha256`, 'utf8').split(/\s+/)[0]).toBe(actual.sha256);

    expect(await readFileInQcow2(qcow2, MARKER_FILE)).toBe(expectedMarker('debian-test', 'hello from nodepool'));
  });
});
