// builder-kill: real nodepool-builder processes building a diskimage and
// uploading it to two simulated clouds (state files), each killed at a
// random (seeded) moment while a build or an upload is under way: SIGKILL
// most rounds, SIGTERM every fourth, with `nodepool image-build` asked along
// the way so that builds follow one another and old ones are deleted. Then
// one builder settles everything and is stopped gracefully. Run on each
// backend.
//
// Fails on: a builder that does not start or exits by itself; a SIGTERM
// not ending with exit 0 in time, or leaving a lease of the stopped process
// in the database; a build or upload record not ready
// once settled (stuck), or more kept than retention allows, or the newest
// build not uploaded everywhere within the settle bound; files in
// images-dir of no build, or a ready build without its files; images in a
// cloud that no upload record names, or a ready upload whose image is gone;
// any lease left after the final graceful stop; a stack trace in any
// builder's output; the diskimage without a ready build uploaded ready to
// each provider at the end.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify as stringifyYaml } from 'yaml';
import { openDatabase } from '../../dist/src/db/index.js';
import { seededRandom } from '../../dist/src/simulated-cloud/index.js';
import { withScratchDatabase } from '../scratch-database.mjs';
import { hasStackTrace, nodepool, nodepoolJson, ROOT, sleep, startDaemon, waitUntil } from './common.mjs';

/**
 * Short leases, so a killed builder's work is taken over within seconds
 * rather than a minute (as test/integration/builder-killed.test.ts does).
 */
const TUNING = { NODEPOOL_BUILDER_TICK_SECONDS: '0.2', NODEPOOL_BUILDER_SURVEY_SECONDS: '0.5', NODEPOOL_BUILDER_LEASE_SECONDS: '3' };
/** A build and an upload each take seconds, so a kill lands in the middle of one more often than not. */
const BUILD_SECONDS = 3;
const UPLOAD_SECONDS = 2.5;
const PROVIDERS = ['fake-a', 'fake-b'];
/** What the builder keeps per diskimage and per provider image (src/builder/plan.ts, KEEP_READY). */
const KEEP_READY = 2;
/** A graceful stop must end well within the builder's own 30 s bound: nothing it does here takes long. */
const SIGTERM_BOUND_MS = 20_000;

/** How nodepool-builder names itself as a lease owner (src/core/leases.ts). */
const ownerOf = (pid) => `nodepool-builder:${hostname()}:${pid}`;

export async function builderKill(backend, short) {
  return withScratchDatabase(backend, 'chaos', async (dir, dburi) => {
    const imagesDir = join(dir, 'images');
    const configFile = join(dir, 'nodepool.yaml');
    const stateFile = (provider) => join(dir, `${provider}.json`);
    writeFileSync(configFile, stringifyYaml({
      dburi,
      'images-dir': imagesDir,
      labels: [{ name: 'small', image: 'debian', 'min-ready': 0, providers: PROVIDERS.map((name) => ({ name })) }],
      providers: PROVIDERS.map((name) => ({
        name,
        driver: 'fake',
        'max-servers': 4,
        rate: 0.001,
        fake: { 'state-file': stateFile(name), latency: { upload: UPLOAD_SECONDS } },
        images: [{ name: 'debian', 'min-ram': 1024 }],
      })),
      targets: [{ name: 'local' }],
      diskimages: [{
        name: 'debian',
        elements: ['debian-minimal'],
        'dib-cmd': join(ROOT, 'config/fake-image-create'),
        'env-vars': { FAKE_DIB_SLEEP: String(BUILD_SECONDS) },
      }],
    }));

    const random = seededRandom(20261127);
    const rounds = short ? 4 : 15;
    const settleBoundMs = short ? 60_000 : 90_000;
    const failures = {
      'exited by itself': 0, 'SIGTERM exit': 0, 'lease after SIGTERM': 0, 'not settled': 0, stuck: 0, retention: 0, 'orphan files': 0, 'missing files': 0,
      'stray cloud images': 0, 'missing cloud images': 0, 'leases left': 0, 'stack trace': 0, 'not uploaded': 0,
    };
    const note = (what, detail) => {
      failures[what] += 1;
      console.error(`builder-kill [${backend}]: ${what}: ${detail}`);
    };
    const figures = { kills: 0, sigterms: 0, midBuild: 0, midUpload: 0, buildRequests: 0, lapsedLeases: 0, errorLines: 0 };
    const buildsSeen = new Set();
    const uploadsSeen = new Set();
    const builders = [];
    /** Lease owners of the builders stopped with SIGTERM: they must have given everything up. */
    const graceful = new Set();
    // The script's own view of the database: the leases have no command of their own.
    const db = await openDatabase(dburi);
    const leasesOf = async (owner) => (await db.knex('lease').select('name', 'owner', 'expires_at')).filter((l) => owner === undefined || l.owner === owner);
    const look = async () => {
      const [builds, uploads] = [await db.builds.list(), await db.uploads.list()];
      for (const b of builds) buildsSeen.add(b.id);
      for (const u of uploads) uploadsSeen.add(u.id);
      return { builds, uploads };
    };
    /** A builder, once it says it started: a signal before node has loaded the daemon ends it as any process. */
    const start = async () => {
      // --no-webapp: several builders run at once here, and each would otherwise take port 8006.
      const builder = startDaemon('nodepool-builder', ['-c', configFile, '--no-webapp'], { cwd: dir, env: TUNING });
      builders.push(builder);
      if (!(await waitUntil(() => !builder.running() || /"builder started with/.test(builder.output()), 15_000, 50)) || !builder.running()) {
        note('exited by itself', `nodepool-builder ${builder.pid} did not start\n${builder.output().slice(-2000)}`);
      }
      return builder;
    };
    /** A graceful stop: exit 0 in time, and nothing of the process left in the lease table. */
    const stopGracefully = async (builder) => {
      const ended = await builder.stop('SIGTERM', SIGTERM_BOUND_MS);
      graceful.add(ownerOf(builder.pid));
      if (ended.code !== 0 || ended.late || /did not stop within/.test(builder.output())) {
        note('SIGTERM exit', `pid ${builder.pid}: ${JSON.stringify(ended)}\n${builder.output().slice(-1500)}`);
      }
      const left = await leasesOf(ownerOf(builder.pid));
      if (left.length > 0) note('lease after SIGTERM', `pid ${builder.pid} left ${left.map((l) => l.name).join(', ')}\n${builder.output().slice(-3000)}`);
    };

    let settleS;
    try {
      for (let round = 0; round < rounds; round += 1) {
        // A new build every few rounds: several builds over the run, so retention deletes old ones.
        if (round % (short ? 2 : 3) === 1) {
          const asked = await nodepool(['-c', configFile, 'image-build', 'debian']);
          if (asked.code === 0) figures.buildRequests += 1;
          else console.error(`builder-kill [${backend}]: image-build exited ${asked.code}: ${asked.stderr}`);
        }
        const builder = await start();
        // Long enough for a killed predecessor's leases (3 s) to lapse and some work to start; short enough to land mid-way.
        const until = performance.now() + 1000 + random() * 5000;
        while (performance.now() < until && builder.running()) {
          await look();
          await sleep(200);
        }
        // What it was doing when it was stopped: work leases it held on records still in progress.
        const { builds, uploads } = await look();
        const held = new Set((await leasesOf(ownerOf(builder.pid))).map((l) => l.name));
        if (!builder.running()) note('exited by itself', `nodepool-builder ${builder.pid}: ${JSON.stringify(await builder.exited)}\n${builder.output().slice(-2000)}`);
        if (builds.some((b) => b.state === 'building' && held.has(`image-build-${b.id}`))) figures.midBuild += 1;
        if (uploads.some((u) => u.state === 'uploading' && held.has(`image-upload-${u.id}`))) figures.midUpload += 1;
        if (round % 4 === 3) {
          await stopGracefully(builder);
          figures.sigterms += 1;
        } else {
          await builder.kill();
          figures.kills += 1;
        }
      }

      // One builder takes everything over (after the last killed one's leases lapse) and settles it.
      const settleStarted = performance.now();
      const final = await start();
      const settled = await waitUntil(async () => {
        const { builds, uploads } = await look();
        const ready = builds.filter((b) => b.state === 'ready');
        const newest = ready.sort((a, b) => b.id - a.id)[0];
        return builds.length > 0 && ready.length === builds.length && ready.length <= KEEP_READY &&
          uploads.every((u) => u.state === 'ready') &&
          PROVIDERS.every((p) => uploads.filter((u) => u.provider === p).length <= KEEP_READY && uploads.some((u) => u.provider === p && u.buildId === newest.id));
      }, settleBoundMs, 250);
      settleS = +((performance.now() - settleStarted) / 1000).toFixed(1);
      if (!settled) note('not settled', `not every build and upload ready, kept and uploaded everywhere within ${settleBoundMs / 1000} s\n${final.output().slice(-3000)}`);
      await stopGracefully(final);

      // The records as an operator reads them, with every builder stopped.
      const buildList = await nodepoolJson(configFile, 'dib-image-list');
      const uploadList = await nodepoolJson(configFile, 'image-list');
      if (!buildList || !uploadList) throw new Error('builder-kill: dib-image-list or image-list failed');
      for (const b of buildList) if (b.state !== 'ready') note('stuck', `build ${b.id} is ${b.state}`);
      for (const u of uploadList) if (u.state !== 'ready') note('stuck', `upload ${u.upload_id} (build ${u.build_id} to ${u.provider}) is ${u.state}`);
      const readyBuilds = buildList.filter((b) => b.state === 'ready');
      if (readyBuilds.length > KEEP_READY) note('retention', `${readyBuilds.length} ready builds kept`);
      for (const p of PROVIDERS) {
        const kept = uploadList.filter((u) => u.provider === p && u.state === 'ready');
        if (kept.length > KEEP_READY) note('retention', `${kept.length} ready uploads kept in ${p}`);
      }

      // Every file in images-dir is a build's (`debian-<id>.<ext>`), and every ready build has its image file.
      const buildNames = new Set(buildList.map((b) => b.id));
      const files = existsSync(imagesDir) ? readdirSync(imagesDir) : [];
      for (const file of files) {
        if (file.startsWith('.')) continue; // disk-image-create's cache, not a build's
        // A pid file means a disk-image-create that was never stopped and reaped.
        if (!buildNames.has(file.replace(/\..*$/, '')) || file.endsWith('.pid')) note('orphan files', file);
      }
      for (const b of readyBuilds) {
        for (const format of b.formats) {
          if (!files.includes(`${b.id}.${format === 'squashfs' ? 'squash' : format}`)) note('missing files', `${b.id}.${format}`);
        }
      }

      // Every image a cloud holds is an upload's, and every ready upload's image is there.
      // Images without a size were seeded by the cloud (stand-ins before the first upload), not uploaded.
      for (const p of PROVIDERS) {
        const images = existsSync(stateFile(p)) ? JSON.parse(readFileSync(stateFile(p), 'utf8')).images : [];
        const known = new Set(uploadList.filter((u) => u.provider === p && u.provider_image_id).map((u) => u.provider_image_id));
        for (const image of images) {
          if (image.size !== undefined && !known.has(image.id)) note('stray cloud images', `${p}: ${image.id} ${image.name} (upload ${image.properties?.nodepool_upload_id})`);
        }
        const ids = new Set(images.map((i) => i.id));
        for (const u of uploadList) {
          if (u.provider === p && u.state === 'ready' && !ids.has(u.provider_image_id)) note('missing cloud images', `${p}: upload ${u.upload_id} names ${u.provider_image_id}`);
        }
      }

      // The final graceful stop leaves nothing held: no lease of any builder, dead or alive. A killed
      // builder's lease on work it finished just before the kill stays in the table, lapsed, until
      // that record is claimed again (to be deleted): counted, but it holds nothing.
      const now = Date.now();
      for (const lease of await leasesOf()) {
        if (Number(lease.expires_at) > now || graceful.has(lease.owner)) note('leases left', `${lease.name} held by ${lease.owner}`);
        else figures.lapsedLeases += 1;
      }
      for (const builder of builders) {
        if (hasStackTrace(builder.output())) note('stack trace', `nodepool-builder ${builder.pid}\n${builder.output().slice(-2000)}`);
        // Told, not failed on: what went wrong for the builders, as an operator reads it in their logs.
        const errors = builder.output().split('\n').filter((line) => /^\{"level":"(error|fatal)"/.test(line));
        figures.errorLines += errors.length;
        if (errors.length > 0) console.error(`builder-kill [${backend}]: nodepool-builder ${builder.pid} logged:\n${errors.join('\n').slice(0, 2000)}`);
      }

      // The point of it all: a ready build of debian, uploaded ready to each provider.
      const usable = readyBuilds.some((b) =>
        PROVIDERS.every((p) => uploadList.some((u) => `debian-${u.build_id}` === b.id && u.provider === p && u.state === 'ready')));
      if (!usable) note('not uploaded', `no ready build uploaded ready to ${PROVIDERS.join(' and ')}`);
    } finally {
      for (const builder of builders) await builder.kill();
      await db.close();
    }
    const failed = Object.values(failures).reduce((a, b) => a + b, 0);
    return {
      scenario: 'builder-kill', backend, ...figures, builds: buildsSeen.size, uploads: uploadsSeen.size, settleS, failures, ok: failed === 0,
    };
  });
}
