/**
 * Several nodepool-builder processes on one database: they share the work
 * through leases, so each build and each upload is done exactly once, a
 * builder that dies has its work redone by another once its lease lapses, and
 * one stopped gracefully gives its work up at once.
 *
 * Real processes (bin/nodepool-builder.js, so `npm run build` first) over
 * fake clouds in state files and config/fake-image-create, with the builder's
 * timings shortened through the environment.
 */
import { readdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Database, ImageBuildRecord } from '../../src/db/index.js';
import { tempDir, writeConfigFile } from '../support/config-files.js';
import { clearAll, describeEachBackend } from '../support/databases.js';
import { startBuilder, waitFor, type LogLine, type RunningDaemon } from '../support/daemon.js';
import { cloudState } from '../support/fake-cloud-state.js';
import { poolConfig } from '../support/pool-config.js';

const PROVIDERS = ['fake-a', 'fake-b'];
const TUNING = {
  NODEPOOL_BUILDER_TICK_SECONDS: '0.2',
  NODEPOOL_BUILDER_SURVEY_SECONDS: '0.5',
  NODEPOOL_BUILDER_LEASE_SECONDS: '3',
};
/** The lease the builders take turns planning with (src/builder/survey.ts PLANNER_LEASE). */
const PLANNER_LEASE = 'builder-planner';

const running: RunningDaemon[] = [];
const dirs: string[] = [];
afterEach(async (context) => {
  const failed = context.task.result?.state === 'fail';
  for (const daemon of running.splice(0)) {
    // A failure is easier to read with what the builders said last.
    if (failed) console.error(`nodepool-builder ${daemon.pid} said last:\n${daemon.tail()}`);
    await daemon.stop('SIGTERM', 10_000).catch(() => daemon.kill());
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Setup {
  configFile: string;
  imagesDir: string;
  stateFiles: Record<string, string>;
}

/**
 * Two fake providers that both list every diskimage, so each build is
 * uploaded twice; each diskimage's builds take `sleep` seconds.
 */
function writeSetup(dburi: string, diskimages: string[], sleep: number): Setup {
  const dir = tempDir('nodepool-builders-');
  dirs.push(dir);
  const base = poolConfig({ dir, dburi, providers: PROVIDERS.map((name) => ({ name })) });
  const template = (base.diskimages as Record<string, unknown>[])[0] as Record<string, unknown>;
  const config = {
    ...base,
    providers: (base.providers as Record<string, unknown>[]).map((p) => ({
      ...p,
      images: diskimages.map((name) => ({ name, 'min-ram': 1024, meta: { purpose: 'ci' } })),
    })),
    diskimages: diskimages.map((name) => ({
      ...template,
      name,
      elements: [`${name}-minimal`],
      'env-vars': { FAKE_DIB_SLEEP: String(sleep) },
    })),
  };
  return {
    configFile: writeConfigFile(dir, config),
    imagesDir: join(dir, 'images'),
    stateFiles: Object.fromEntries(PROVIDERS.map((name) => [name, join(dir, `${name}.json`)])),
  };
}

function builder(setup: Setup, args: string[] = [], env: NodeJS.ProcessEnv = {}): RunningDaemon {
  const daemon = startBuilder(['-c', setup.configFile, ...args], { ...TUNING, ...env });
  running.push(daemon);
  return daemon;
}

const fromBuilder = (l: LogLine) => l.name === 'nodepool.builder';
/** Build ids this builder started fresh (`building IMAGE (build N)`). */
const buildsStarted = (d: RunningDaemon) =>
  d.lines.filter((l) => fromBuilder(l) && /^building \S+ \(build \d+\)$/.test(l.msg)).map((l) => l.build as number);
/** Build ids this builder took over (`build N of IMAGE was left by HOST; ...`). */
const buildsTakenOver = (d: RunningDaemon) =>
  d.lines.filter((l) => fromBuilder(l) && / was left by /.test(l.msg)).map((l) => l.build as number);
const uploadsReady = (d: RunningDaemon) =>
  d.lines.filter((l) => fromBuilder(l) && /^upload \d+ is ready$/.test(l.msg)).map((l) => l.upload as number);
const errors = (d: RunningDaemon) => d.lines.filter((l) => l.level === 'error' || l.level === 'fatal');
const tails = (...daemons: RunningDaemon[]) => daemons.map((d) => `--- builder ${d.pid}:\n${d.tail(30)}`).join('\n');
const count = <T>(values: T[], value: T) => values.filter((v) => v === value).length;

/** waitFor, bounded, and on a timeout with what the builders said last. */
async function waitOrTell<T>(
  what: string,
  check: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  timeoutMs: number,
  daemons: RunningDaemon[],
): Promise<T> {
  try {
    return await waitFor(what, check, { timeoutMs });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${tails(...daemons)}`);
  }
}

/** A log line of one builder, waited for. */
const logOf = (d: RunningDaemon, what: string, predicate: (l: LogLine) => boolean, timeoutMs = 20_000) =>
  waitOrTell(what, () => d.lines.find(predicate), timeoutMs, [d]);
const startedLine = (l: LogLine) => fromBuilder(l) && /^builder started/.test(l.msg);
const buildingLine = (image: string) => (l: LogLine) => fromBuilder(l) && new RegExp(`^building ${image} \\(build \\d+\\)$`).test(l.msg);
const takeoverLine = (buildId: number) => (l: LogLine) => fromBuilder(l) && l.build === buildId && / was left by /.test(l.msg);

/** The nodepool images in every cloud, each with the provider whose cloud holds it. */
function cloudImages(setup: Setup) {
  return PROVIDERS.flatMap((provider) =>
    cloudState(setup.stateFiles[provider] as string)
      .images.filter((i) => i.properties.nodepool_build_id !== undefined || i.properties.nodepool_upload_id !== undefined)
      .map((i) => ({ provider, id: i.id, buildId: i.properties.nodepool_build_id, uploadId: i.properties.nodepool_upload_id })),
  );
}

/** Files and directories in images-dir, hidden ones (the DIB cache) aside. */
const imageFiles = (setup: Setup) => readdirSync(setup.imagesDir).filter((f) => !f.startsWith('.')).sort();

describeEachBackend('nodepool-builder processes sharing one database', (backend) => {
  // MariaDB only, as several builders on one database are deployed, and to
  // keep the suite short (both backends take about 55 s on two busy cores).
  // Several processes writing one SQLite file are covered by
  // test/db/transaction.test.ts (a transaction run again after a conflict).
  const test = it.skipIf(backend.name !== 'mariadb');
  let db: Database;
  beforeAll(async () => {
    db = await backend.open();
  });
  beforeEach(async () => {
    await clearAll(db);
  });

  /** Every listed diskimage has a ready build whose uploads are ready in every provider. */
  async function allReady(images: string[]): Promise<boolean> {
    const builds = await db.builds.list();
    const uploads = await db.uploads.list();
    return images.every((image) => {
      const ready = builds.find((b) => b.image === image && b.state === 'ready');
      return ready && PROVIDERS.every((p) => uploads.some((u) => u.buildId === ready.id && u.provider === p && u.state === 'ready'));
    });
  }

  /** No build or upload lease is held: nobody has work in flight. */
  async function idle(): Promise<boolean> {
    const held = await db.knex('lease').where('name', 'like', 'image-%').andWhere('expires_at', '>', Date.now());
    return held.length === 0;
  }

  test('two builders share the work, each build and upload done exactly once', { timeout: 40_000 }, async () => {
    const setup = writeSetup(backend.uri, ['debian', 'centos'], 1);
    // Nothing is planned until both builders are up: the test holds the planner
    // lease meanwhile. Otherwise one builder starting a second late (two busy
    // cores) could rightly do both builds alone, and the test would not show
    // that two builders running side by side each take their own build.
    expect(await db.leases.tryAcquire(PLANNER_LEASE, 'test', 60_000)).toBe(true);
    const one = builder(setup, ['--build-workers', '1']);
    const two = builder(setup, ['--build-workers', '1']);
    for (const d of [one, two]) await logOf(d, 'the builder started', startedLine);
    await db.leases.release(PLANNER_LEASE, 'test');

    await waitOrTell('a ready build of each diskimage, uploaded to both providers', () => allReady(['debian', 'centos']), 20_000, [one, two]);
    await waitOrTell('both builders idle', idle, 10_000, [one, two]);
    expect(await one.stop(), tails(one)).toBe(0);
    expect(await two.stop(), tails(two)).toBe(0);
    const builds = await db.builds.list();
    const uploads = await db.uploads.list();

    // Exactly one build per diskimage, and nothing else.
    expect(builds.map((b) => [b.image, b.state]).sort()).toEqual([
      ['centos', 'ready'],
      ['debian', 'ready'],
    ]);
    // Each build was started by exactly one of the processes, and each process took one.
    const started = [...buildsStarted(one), ...buildsStarted(two)];
    for (const build of builds) expect(count(started, build.id), `build ${build.id} started\n${tails(one, two)}`).toBe(1);
    expect(started).toHaveLength(2);
    expect(buildsStarted(one), tails(one, two)).toHaveLength(1);
    expect(buildsStarted(two), tails(one, two)).toHaveLength(1);
    expect([...buildsTakenOver(one), ...buildsTakenOver(two)], tails(one, two)).toEqual([]);
    expect([...one.lines, ...two.lines].filter((l) => /lost the lease/.test(l.msg)), tails(one, two)).toEqual([]);

    // Four uploads, one per (build, provider), each done once.
    expect(uploads).toHaveLength(4);
    expect(uploads.every((u) => u.state === 'ready')).toBe(true);
    expect(uploads.map((u) => `${u.buildId}/${u.provider}`).sort()).toEqual(
      builds.flatMap((b) => PROVIDERS.map((p) => `${b.id}/${p}`)).sort(),
    );
    const readyLogged = [...uploadsReady(one), ...uploadsReady(two)];
    for (const upload of uploads) expect(count(readyLogged, upload.id), `upload ${upload.id} ready\n${tails(one, two)}`).toBe(1);

    // Exactly one cloud image per upload record: no duplicate uploads, no orphans.
    const images = cloudImages(setup);
    expect(images).toHaveLength(4);
    for (const image of images) {
      const upload = uploads.find((u) => String(u.id) === image.uploadId);
      expect(upload, `image ${image.id} in ${image.provider} has no upload record`).toBeDefined();
      expect(upload?.provider).toBe(image.provider);
      expect(upload?.externalId).toBe(image.id);
      expect(String(upload?.buildId)).toBe(image.buildId);
    }
    expect([...errors(one), ...errors(two)]).toEqual([]);
  });

  test('a builder killed mid-build: its lease lapses and another redoes the build', { timeout: 45_000 }, async () => {
    const setup = writeSetup(backend.uri, ['debian'], 4);
    const first = builder(setup);
    const buildId = (await logOf(first, 'the build to start', buildingLine('debian'))).build as number;
    const second = builder(setup);
    await logOf(second, 'the second builder started', startedLine);
    await first.kill();
    // While the first builder lived, its lease kept the second one off the build.
    expect(buildsTakenOver(second), tails(first, second)).toEqual([]);
    // Killed mid-build: the build was not finished there.
    expect((await db.builds.get(buildId))?.state, tails(first)).toBe('building');
    expect(first.lines.some((l) => fromBuilder(l) && l.msg === `build ${buildId} is ready`)).toBe(false);

    await logOf(second, 'the build taken over', takeoverLine(buildId), 15_000);
    await waitOrTell('the build ready and uploaded to both providers', () => allReady(['debian']), 20_000, [second]);
    await waitOrTell('the builder idle', idle, 10_000, [second]);
    expect(await second.stop(), tails(second)).toBe(0);
    const builds = await db.builds.list();
    const uploads = await db.uploads.list();

    // The same build, redone: no second build record.
    expect(builds).toHaveLength(1);
    const [build] = builds as [ImageBuildRecord];
    expect(build).toMatchObject({ id: buildId, image: 'debian', state: 'ready', builder: hostname() });
    expect(build.filename).toBe(join(setup.imagesDir, `debian-${buildId}`));
    expect(buildsStarted(second)).toEqual([]);
    expect(buildsTakenOver(second)).toEqual([buildId]);

    expect(uploads.map((u) => [u.buildId, u.provider, u.state]).sort()).toEqual(PROVIDERS.map((p) => [buildId, p, 'ready']));
    const images = cloudImages(setup);
    expect(images.map((i) => [i.provider, i.buildId]).sort()).toEqual(PROVIDERS.map((p) => [p, String(buildId)]));
    for (const image of images) expect(uploads.find((u) => String(u.id) === image.uploadId)?.externalId).toBe(image.id);

    // Only this build's files are in images-dir, its image among them.
    const files = imageFiles(setup);
    expect(files.filter((f) => !f.startsWith(`debian-${buildId}.`))).toEqual([]);
    expect(files).toContain(`debian-${buildId}.qcow2`);
    expect(errors(second)).toEqual([]);
  });

  test('SIGTERM stops a builder gracefully and the next start redoes the build in flight', { timeout: 45_000 }, async () => {
    const setup = writeSetup(backend.uri, ['debian'], 4);
    // A lease far longer than the test waits: the next builder can only take the
    // build over at once if the stopped one gave its lease up.
    const env = { NODEPOOL_BUILDER_LEASE_SECONDS: '60' };
    const first = builder(setup, [], env);
    const buildId = (await logOf(first, 'the build to start', buildingLine('debian'))).build as number;
    await logOf(first, 'disk-image-create under way', (l) => /Sleeping 4s/.test(l.msg));
    expect(imageFiles(setup)).toContain(`debian-${buildId}.d`);

    expect(await first.stop('SIGTERM'), tails(first)).toBe(0);
    // The partial output is gone; the log of the attempt may stay.
    expect(imageFiles(setup).filter((f) => f !== `debian-${buildId}.log`)).toEqual([]);
    expect((await db.builds.get(buildId))?.state).toBe('building');
    expect(await db.leases.holder(`image-build-${buildId}`), 'the build lease was not given up').toBeUndefined();
    expect(await db.leases.holder(PLANNER_LEASE), 'the planner lease was not given up').toBeUndefined();

    const second = builder(setup, [], env);
    await logOf(second, 'the build taken over', takeoverLine(buildId), 10_000);
    await waitOrTell('the build ready and uploaded to both providers', () => allReady(['debian']), 20_000, [second]);
    await waitOrTell('the builder idle', idle, 10_000, [second]);
    expect(await second.stop(), tails(second)).toBe(0);
    const builds = await db.builds.list();
    const uploads = await db.uploads.list();

    expect(builds.map((b) => [b.id, b.state])).toEqual([[buildId, 'ready']]);
    expect(uploads.map((u) => [u.buildId, u.provider, u.state]).sort()).toEqual(PROVIDERS.map((p) => [buildId, p, 'ready']));
    expect(cloudImages(setup)).toHaveLength(2);
    const files = imageFiles(setup);
    expect(files.filter((f) => !f.startsWith(`debian-${buildId}.`))).toEqual([]);
    expect(files).toContain(`debian-${buildId}.qcow2`);
    // The stopped builder complains of nothing; the build it cancelled is a warning.
    expect(errors(first)).toEqual([]);
    expect(first.lines.filter((l) => l.level === 'warn' && l.reason === 'aborted')).toHaveLength(1);
    expect(errors(second)).toEqual([]);
  });
});
