import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { DiskImage } from '../../src/config/types.js';
import { dibInvocation } from '../../src/dib/command.js';
import { liveGroupMembers, runDiskImageCreate, stopLeftoverBuild } from '../../src/dib/run.js';

const FAKE = resolve('config/fake-image-create');
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function capturingLogger() {
  const lines: { level: number; msg: string; stream?: string; reason?: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

function build(opts: { types?: string[]; elements?: string[]; env?: Record<string, string>; dibCmd?: string; timeoutMs?: number; signal?: AbortSignal } = {}) {
  const imagesDir = mkdtempSync(join(tmpdir(), 'nodepool-dib-'));
  dirs.push(imagesDir);
  const elementsDir = join(imagesDir, 'elements');
  mkdirSync(join(elementsDir, 'nodepool-base'), { recursive: true });
  const diskimage: DiskImage = {
    name: 'trusty', elements: opts.elements ?? ['ubuntu-minimal', 'nodepool-base'], release: 'trusty',
    rebuildAge: 86400, envVars: { DIB_DISTRIBUTION_MIRROR: 'http://mirror' }, pause: false, dibCmd: opts.dibCmd ?? FAKE,
  };
  const invocation = dibInvocation({
    diskimage, types: opts.types ?? ['qcow2', 'raw', 'tar'], imagesDir, elementsDir, buildId: 1,
    env: { ...process.env, DIB_NO_TIMESTAMP: '', ...opts.env },
  });
  const { logger, lines } = capturingLogger();
  const logFile = `${invocation.outputBase}.log`;
  const run = () => runDiskImageCreate(invocation, {
    logger, logFile, timeoutMs: opts.timeoutMs ?? 10_000, killGraceMs: 1_000, signal: opts.signal,
  });
  return { imagesDir, invocation, lines, logFile, run };
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const md5 = (path: string) => createHash('md5').update(readFileSync(path)).digest('hex');

async function waitForPidFile(pidFile: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    if (existsSync(pidFile)) return Number(readFileSync(pidFile, 'utf8'));
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${pidFile} never appeared`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('running disk-image-create', () => {
  it('a successful build yields one file per type with checksums, and every line in the log and the logger', async () => {
    const { imagesDir, run, logFile, lines } = build();
    const result = await run();

    expect(result).toMatchObject({ ok: true, exitCode: 0, logFile });
    expect(result.formats.map((f) => f.type)).toEqual(['qcow2', 'raw', 'tar']);
    for (const format of result.formats) {
      expect(format.path).toBe(join(imagesDir, `trusty-1.${format.type}`));
      expect(format.size).toBeGreaterThan(1000);
      expect(format.md5).toBe(md5(format.path));
      expect(format.sha256).toBe(sha256(format.path));
    }
    // The tool writes checksum files for qcow2 and raw, not for tar (computed instead).
    expect(existsSync(join(imagesDir, 'trusty-1.qcow2.md5'))).toBe(true);
    expect(existsSync(join(imagesDir, 'trusty-1.tar.md5'))).toBe(false);

    const log = readFileSync(logFile, 'utf8').split('\n');
    expect(log[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| diskimage-builder version /);
    for (const want of [
      `Image file ${imagesDir}/trusty-1.qcow2 created...`, 'Build completed successfully', 'DIB_RELEASE=trusty',
      `DIB_IMAGE_FILENAME=${imagesDir}/trusty-1`, `DIB_IMAGE_CACHE=${imagesDir}/.cache/trusty`,
      'WARNING: fake-image-create builds no real image',
    ]) expect(log.some((l) => l.endsWith(want))).toBe(true);

    const streamed = lines.filter((l) => l.stream !== undefined);
    expect(streamed.map((l) => l.msg)).toEqual(log.filter((l) => l !== ''));
    expect(streamed.find((l) => l.msg.includes('WARNING'))?.stream).toBe('stderr');
    expect(streamed.find((l) => l.msg.includes('Build completed'))).toMatchObject({ stream: 'stdout', level: 30 });
  });

  it('a build that exits 1 fails with reason exit, keeps its log and leaves no partial files', async () => {
    const { imagesDir, run, logFile } = build({ env: { FAKE_DIB_FAIL: '1' } });
    const result = await run();

    expect(result).toMatchObject({ ok: false, exitCode: 1, reason: 'exit', formats: [] });
    expect(readFileSync(logFile, 'utf8')).toContain('ERROR: build failed (FAKE_DIB_FAIL)');
    expect(readdirSync(imagesDir).filter((f) => f.startsWith('trusty-1.'))).toEqual(['trusty-1.log']);
  });

  it('a dib-cmd with arguments reaches the tool (--fail)', async () => {
    const { run } = build({ dibCmd: `${FAKE} --fail` });
    expect(await run()).toMatchObject({ ok: false, reason: 'exit', exitCode: 1 });
  });

  it('exit 0 with a requested type missing fails with reason missing-output', async () => {
    const { imagesDir, run } = build({ env: { FAKE_DIB_SKIP_OUTPUT: 'raw' } });
    const result = await run();

    expect(result).toMatchObject({ ok: false, exitCode: 0, reason: 'missing-output' });
    expect(result.message).toContain(`${imagesDir}/trusty-1.raw`);
    expect(readdirSync(imagesDir).filter((f) => f.startsWith('trusty-1.'))).toEqual(['trusty-1.log']);
  });

  it('a build past its timeout is killed with its whole process group', async () => {
    const { run, logFile } = build({ env: { FAKE_DIB_SLEEP: '30' }, timeoutMs: 500 });
    const started = Date.now();
    const result = await run();

    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(isAlive(result.pid as number)).toBe(false);
    // The sleep the script started was in the same group and runs no more either.
    expect(await liveGroupMembers(result.pid as number)).toBe(0);
    expect(result.durationMs).toBeLessThan(2_000);
    expect(readFileSync(logFile, 'utf8')).toContain('Sleeping 30s');
  });

  it('a cancelled build is stopped with reason aborted', async () => {
    const controller = new AbortController();
    const { run, imagesDir } = build({ env: { FAKE_DIB_SLEEP: '30' }, signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    const result = await run();

    expect(result).toMatchObject({ ok: false, reason: 'aborted' });
    expect(await liveGroupMembers(result.pid as number)).toBe(0);
    expect(readdirSync(imagesDir).filter((f) => f.startsWith('trusty-1.'))).toEqual(['trusty-1.log']);
  });

  it('the pid file holds the running group and goes when it ends; stopLeftoverBuild stops a group a killed builder left', async () => {
    const { invocation, imagesDir } = build({ env: { FAKE_DIB_SLEEP: '30' } });
    const pidFile = `${invocation.outputBase}.pid`;
    const { logger } = capturingLogger();
    const controller = new AbortController();
    const running = runDiskImageCreate(invocation, {
      logger, logFile: `${invocation.outputBase}.log`, timeoutMs: 60_000, killGraceMs: 1_000, signal: controller.signal, pidFile,
    });
    const pgid = await waitForPidFile(pidFile);
    expect(await liveGroupMembers(pgid)).toBeGreaterThan(0);
    // As if this builder had died: another one finds the pid file and stops the group.
    expect(await stopLeftoverBuild(pidFile)).toBe(true);
    expect(await liveGroupMembers(pgid)).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
    controller.abort();
    await running;
    expect(readdirSync(imagesDir).filter((f) => f.endsWith('.pid'))).toEqual([]);
    expect(await stopLeftoverBuild(pidFile)).toBe(false);
  });

  it('an unknown element fails the build with MissingElementException in the log', async () => {
    const { run, logFile } = build({ elements: ['ubuntu-minimal', 'no-such-element'] });
    const result = await run();

    expect(result).toMatchObject({ ok: false, reason: 'exit', exitCode: 1 });
    expect(readFileSync(logFile, 'utf8')).toContain("MissingElementException: Element 'no-such-element' not found");
  });

  it('a command that does not exist fails with reason spawn and says so', async () => {
    const { run, logFile, lines } = build({ dibCmd: '/nonexistent/disk-image-create' });
    const result = await run();

    expect(result).toMatchObject({ ok: false, reason: 'spawn', exitCode: null });
    expect(result.message).toMatch(/cannot start \/nonexistent\/disk-image-create: not found/);
    expect(readFileSync(logFile, 'utf8')).toContain(result.message);
    expect(lines.some((l) => l.msg === result.message && l.level === 50)).toBe(true);
  });
});
