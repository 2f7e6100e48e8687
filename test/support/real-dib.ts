/**
 * Pieces for tests that run the real disk-image-create (diskimage-builder,
 * see /work/shared/notes/diskimage-builder.md and .ci/run, which installs it).
 *
 * No disk-image-create (or a tool it needs) on PATH: such suites are skipped
 * with a warning, except in CI (CI set and not 'false') where they fail, so
 * a CI machine without diskimage-builder is never mistaken for passing tests.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';
import { debianMirrorEnv, type DebianMirrorEnv } from '../../src/dib/apt-mirrors.js';

const execFileAsync = promisify(execFile);

/** test/fixtures/elements: our own elements (nodepool-test-marker), for ELEMENTS_PATH. */
export const TEST_ELEMENTS_DIR = fileURLToPath(new URL('../fixtures/elements', import.meta.url));

/** What the nodepool-test-marker element writes inside the image. */
export const MARKER_FILE = '/etc/nodepool-test-marker';

/** The contents nodepool-test-marker writes for an image name and a NODEPOOL_TEST_MARKER value. */
export function expectedMarker(imageName: string, marker: string): string {
  return `DIB_IMAGE_NAME=${imageName}\nNODEPOOL_TEST_MARKER=${marker}\n`;
}

/** The mirror env-vars for a Debian release, from this machine's apt sources. */
export function mirrorEnv(release: string): DebianMirrorEnv {
  return debianMirrorEnv(release);
}

const inCi = Boolean(process.env.CI) && process.env.CI !== 'false';

/** disk-image-create, plus what a build and the checks below call. */
const REQUIRED_COMMANDS = ['disk-image-create', 'sudo', 'qemu-img', 'debugfs'];

/** Why a real build cannot run here, or undefined when it can. */
export function realDibProblem(): string | undefined {
  const missing = REQUIRED_COMMANDS.filter((command) => onPath(command) === undefined);
  if (missing.length === 0) return undefined;
  return `${missing.join(', ')} not on PATH (install diskimage-builder as .ci/run does)`;
}

export function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** describe() when a real build can run; else skipped with a warning, or a failing test in CI. */
export function describeWithRealDib(title: string, body: () => void): void {
  const problem = realDibProblem();
  if (problem === undefined) {
    describe(title, body);
  } else if (inCi) {
    describe(title, () => {
      it('needs diskimage-builder in CI', () => {
        throw new Error(`real diskimage-builder tests cannot run: ${problem}`);
      });
    });
  } else {
    console.warn(`skipping '${title}': ${problem}`);
    describe.skip(`${title} (skipped: ${problem})`, body);
  }
}

const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]); // 'QFI\xfb'

/** Whether a file starts with the qcow2 magic. */
export async function isQcow2(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await file.read(head, 0, 4, 0);
    return bytesRead === 4 && head.equals(QCOW2_MAGIC);
  } finally {
    await file.close();
  }
}

/** md5 and sha256 of a file in one streamed pass (images are hundreds of MB). */
export function streamedChecksums(path: string): Promise<{ md5: string; sha256: string }> {
  return new Promise((done, fail) => {
    const md5 = createHash('md5');
    const sha256 = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => {
        md5.update(chunk);
        sha256.update(chunk);
      })
      .on('end', () => done({ md5: md5.digest('hex'), sha256: sha256.digest('hex') }))
      .on('error', fail);
  });
}

/**
 * A file inside a qcow2 image built without the `vm` element (the image is one
 * bare ext filesystem, no partition table): converted to raw in a temporary
 * directory (1.7 GB sparse, a few seconds), then read with debugfs.
 */
export async function readFileInQcow2(image: string, pathInImage: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'nodepool-qcow2-'));
  try {
    const raw = join(dir, 'image.raw');
    await execFileAsync('qemu-img', ['convert', '-O', 'raw', image, raw]);
    // debugfs exits 0 even for a missing file; it says so on stderr.
    const { stdout, stderr } = await execFileAsync('debugfs', ['-R', `cat ${pathInImage}`, raw], { maxBuffer: 16 * 1024 * 1024 });
    if (/not found|Bad magic|Couldn't find valid filesystem/i.test(stderr)) {
      throw new Error(`cannot read ${pathInImage} in ${image}: ${stderr.trim()}`);
    }
    return stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
