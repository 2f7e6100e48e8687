import { describe, expect, it } from 'vitest';
import { planImages, type ImagePlanInput } from '../../src/builder/plan.js';
import type { DiskImage, Provider, ProviderImage } from '../../src/config/types.js';
import type { BuildState, ImageBuildRecord, ImageUploadRecord, UploadState } from '../../src/db/records.js';

const HOUR = 3_600_000;
const NOW = 100 * HOUR;

function diskimage(name: string, extra: Partial<DiskImage> = {}): DiskImage {
  return { name, elements: [], release: '', rebuildAge: 86_400, envVars: {}, pause: false, dibCmd: 'disk-image-create', ...extra };
}

function provider(name: string, images: Partial<ProviderImage>[], extra: Partial<Provider> = {}): Provider {
  return {
    name,
    driver: 'fake',
    maxServers: 10,
    rate: 1,
    availabilityZones: [],
    bootTimeout: 60,
    launchTimeout: 3600,
    networks: [],
    ipv6Preferred: false,
    templateHostname: 'template-{image.name}-{timestamp}',
    imageType: 'qcow2',
    cleanFloatingIps: false,
    images: images.map((i) => ({
      name: 'debian',
      diskimage: i.name ?? 'debian',
      minRam: 1024,
      pause: false,
      username: 'jenkins',
      userHome: '/home/jenkins',
      privateKey: '/k',
      meta: {},
      ...i,
    })),
    ...extra,
  };
}

let nextId = 1;
function build(state: BuildState, ageHours: number, extra: Partial<ImageBuildRecord> = {}): ImageBuildRecord {
  const at = NOW - ageHours * HOUR;
  return { id: nextId++, image: 'debian', builder: 'h', filename: null, formats: ['qcow2'], withdrawnFrom: [], state, stateTime: at, createdAt: at, ...extra };
}
function upload(b: ImageBuildRecord, providerName: string, state: UploadState, extra: Partial<ImageUploadRecord> = {}): ImageUploadRecord {
  return {
    id: nextId++,
    buildId: b.id,
    provider: providerName,
    image: 'debian',
    externalName: null,
    externalId: state === 'ready' ? `img-${b.id}` : null,
    state,
    stateTime: b.stateTime,
    createdAt: b.createdAt + 1,
    ...extra,
  };
}

function plan(input: Partial<ImagePlanInput>) {
  return planImages({
    config: { diskimages: [diskimage('debian')], providers: [provider('a', [{}])] },
    builds: [],
    uploads: [],
    requests: [],
    now: NOW,
    buildRetryMs: HOUR,
    ...input,
  });
}

describe('planImages: when a build is due', () => {
  it('builds a diskimage that has no ready build', () => {
    expect(plan({}).builds).toEqual([{ image: 'debian', requestIds: [], why: 'no ready build' }]);
  });

  it('waits while the newest ready build is younger than rebuild-age, builds once it is older', () => {
    expect(plan({ builds: [build('ready', 23)] }).builds).toEqual([]);
    expect(plan({ builds: [build('ready', 25)] }).builds.map((b) => b.why)).toEqual(['newest build older than 86400 s']);
  });

  it('builds on request even with a fresh build, and answers every pending request of that image', () => {
    const requests = [
      { id: 7, image: 'debian', requestedAt: NOW, handledAt: null },
      { id: 8, image: 'debian', requestedAt: NOW, handledAt: null },
    ];
    expect(plan({ builds: [build('ready', 1)], requests }).builds).toEqual([{ image: 'debian', requestIds: [7, 8], why: 'requested' }]);
  });

  it('never starts a second build of a diskimage while one is in progress, requests wait', () => {
    const requests = [{ id: 9, image: 'debian', requestedAt: NOW, handledAt: null }];
    const result = plan({ builds: [build('building', 0)], requests });
    expect(result.builds).toEqual([]);
    expect(result.droppedRequests).toEqual([]);
  });

  it('builds nothing of a paused diskimage and drops its requests', () => {
    const requests = [{ id: 3, image: 'debian', requestedAt: NOW, handledAt: null }];
    const result = plan({ config: { diskimages: [diskimage('debian', { pause: true })], providers: [provider('a', [{}])] }, requests });
    expect(result.builds).toEqual([]);
    expect(result.droppedRequests).toEqual([{ id: 3, why: 'debian is paused' }]);
  });

  it('builds only diskimages some live provider lists', () => {
    const config = {
      diskimages: [diskimage('debian'), diskimage('unused'), diskimage('retired-only')],
      providers: [provider('a', [{}]), provider('old', [{ name: 'retired-only' }], { maxServers: -1 })],
    };
    expect(plan({ config }).builds.map((b) => b.image)).toEqual(['debian']);
  });

  it('after a failed build waits buildRetryMs before the next, unless asked', () => {
    const ready = build('ready', 30);
    const failedRecently = build('failed', 0.5);
    expect(plan({ builds: [ready, failedRecently] }).builds).toEqual([]);
    expect(plan({ builds: [ready, build('failed', 2)] }).builds.map((b) => b.image)).toEqual(['debian']);
    const requests = [{ id: 4, image: 'debian', requestedAt: NOW, handledAt: null }];
    expect(plan({ builds: [ready, build('failed', 0.5)], requests }).builds.map((b) => b.why)).toEqual(['requested']);
  });

  it('builds again when a provider needs a format the newest build lacks', () => {
    const config = { diskimages: [diskimage('debian')], providers: [provider('a', [{}]), provider('b', [{}], { imageType: 'raw' })] };
    expect(plan({ config, builds: [build('ready', 1)] }).builds.map((b) => b.why)).toEqual(['newest build lacks raw']);
  });

  it('drops requests for a diskimage that is not configured', () => {
    const requests = [{ id: 5, image: 'gone', requestedAt: NOW, handledAt: null }];
    expect(plan({ requests, builds: [build('ready', 1)] }).droppedRequests).toEqual([{ id: 5, why: 'no diskimage gone in the configuration' }]);
  });
});

describe('planImages: uploads', () => {
  const twoProviders = {
    diskimages: [diskimage('debian')],
    providers: [
      provider('a', [{}, { name: 'debian-large', diskimage: 'debian' }]),
      provider('b', [{ pause: true }]),
      provider('old', [{}], { maxServers: -1 }),
    ],
  };

  it('uploads the newest ready build to every provider image that uses it, except paused entries and retired providers', () => {
    const older = build('ready', 5);
    const newest = build('ready', 1);
    expect(plan({ config: twoProviders, builds: [older, newest] }).uploads).toEqual([
      { buildId: newest.id, provider: 'a', image: 'debian' },
      { buildId: newest.id, provider: 'a', image: 'debian-large' },
    ]);
  });

  it('does not upload a build again where it is uploading, ready or failed', () => {
    const b = build('ready', 1);
    for (const state of ['uploading', 'ready', 'failed'] as const) {
      expect(plan({ builds: [b], uploads: [upload(b, 'a', state)] }).uploads).toEqual([]);
    }
    expect(plan({ builds: [b], uploads: [upload(b, 'a', 'deleting')] }).uploads).toEqual([{ buildId: b.id, provider: 'a', image: 'debian' }]);
  });

  it('never uploads a build again where a person deleted its upload, until a newer build is ready', () => {
    const older = build('ready', 5);
    const withdrawn = build('ready', 1, { withdrawnFrom: ['a/debian'] });
    expect(plan({ builds: [older, withdrawn], uploads: [upload(older, 'a', 'ready')] }).uploads).toEqual([]);
    const config = { diskimages: [diskimage('debian')], providers: [provider('a', [{}]), provider('b', [{}])] };
    expect(plan({ config, builds: [older, withdrawn] }).uploads).toEqual([{ buildId: withdrawn.id, provider: 'b', image: 'debian' }]);
  });
});

describe('planImages: retention', () => {
  it('keeps the two newest ready uploads per provider image and deletes the older', () => {
    const builds = [build('ready', 3), build('ready', 2), build('ready', 1)];
    const uploads = builds.map((b) => upload(b, 'a', 'ready'));
    const result = plan({ builds, uploads });
    expect(result.deleteUploads).toEqual([{ id: uploads[0]!.id, why: 'older than the 2 newest ready uploads' }]);
    // The oldest build's upload is being deleted, so the build is not kept for it.
    expect(result.deleteBuilds).toEqual([{ id: builds[0]!.id, why: 'older than the 2 newest ready builds' }]);
  });

  it('keeps an old build while a kept upload in some provider still refers to it', () => {
    const config = { diskimages: [diskimage('debian')], providers: [provider('a', [{}]), provider('b', [{}])] };
    const builds = [build('ready', 3), build('ready', 2), build('ready', 1)];
    // Provider b never got the two newer builds: its only upload is of the oldest build.
    const uploads = [...builds.map((b) => upload(b, 'a', 'ready')), upload(builds[0]!, 'b', 'ready')];
    const result = plan({ config, builds, uploads });
    expect(result.deleteUploads.map((d) => d.id)).toEqual([uploads[0]!.id]);
    expect(result.deleteBuilds).toEqual([]);
  });

  it('deletes every upload in a provider that no longer lists the image, is retired or is gone', () => {
    const b = build('ready', 1);
    const config = {
      diskimages: [diskimage('debian')],
      providers: [provider('a', [{ name: 'other', diskimage: 'debian' }]), provider('old', [{}], { maxServers: -1 })],
    };
    const uploads = [upload(b, 'a', 'ready'), upload(b, 'old', 'ready'), upload(b, 'gone', 'failed'), upload(b, 'gone', 'uploading')];
    expect(plan({ config, builds: [b], uploads }).deleteUploads).toEqual([
      { id: uploads[0]!.id, why: 'debian is no longer an image of a' },
      { id: uploads[1]!.id, why: 'provider old is retired' },
      { id: uploads[2]!.id, why: 'provider gone is no longer configured' },
    ]);
  });

  it('deletes every build and upload of a diskimage removed from the configuration', () => {
    const b1 = build('ready', 2, { image: 'gone' });
    const b2 = build('failed', 1, { image: 'gone' });
    const u = upload(b1, 'a', 'ready', { image: 'gone' });
    const result = plan({ builds: [b1, b2], uploads: [u] });
    expect(result.deleteBuilds.map((d) => d.id)).toEqual([b2.id, b1.id]);
    expect(result.deleteUploads).toEqual([{ id: u.id, why: 'gone is no longer an image of a' }]);
  });

  it('deletes the uploads of a build a person marked for deletion', () => {
    const keep = build('ready', 2);
    const doomed = build('deleting', 1);
    const uploads = [upload(keep, 'a', 'ready'), upload(doomed, 'a', 'ready')];
    expect(plan({ builds: [keep, doomed], uploads }).deleteUploads).toEqual([{ id: uploads[1]!.id, why: `its build ${doomed.id} is being deleted` }]);
  });

  it('keeps only the newest failed build, and none once a newer build is ready', () => {
    const f1 = build('failed', 5);
    const f2 = build('failed', 4);
    const ready = build('ready', 3);
    const f3 = build('failed', 2);
    expect(plan({ builds: [f1, f2, ready, f3] }).deleteBuilds).toEqual([
      { id: f2.id, why: 'a newer build is ready' },
      { id: f1.id, why: 'a newer build is ready' },
    ]);
  });

  it('deletes a failed upload once a newer upload is ready or a newer build supersedes it', () => {
    const old = build('ready', 3);
    const newer = build('ready', 1);
    const failedOld = upload(old, 'a', 'failed');
    const readyNewer = upload(newer, 'a', 'ready');
    expect(plan({ builds: [old, newer], uploads: [failedOld, readyNewer] }).deleteUploads).toEqual([
      { id: failedOld.id, why: 'a newer upload is ready' },
    ]);
    expect(plan({ builds: [old, newer], uploads: [failedOld] }).deleteUploads).toEqual([
      { id: failedOld.id, why: `build ${newer.id} supersedes it` },
    ]);
    // The newest build's failed upload stays: its actor keeps retrying.
    expect(plan({ builds: [newer], uploads: [upload(newer, 'a', 'failed')] }).deleteUploads).toEqual([]);
  });

  it('never marks an upload in progress for deletion', () => {
    const b = build('ready', 1);
    const uploads = [upload(b, 'gone', 'uploading')];
    expect(plan({ builds: [b], uploads }).deleteUploads).toEqual([]);
  });
});
