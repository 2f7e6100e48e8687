import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeCloud, FakeStateFileError, seededRandom } from '../../../src/drivers/fake/index.js';
import { advance, createNow, fakeSettings, removeTempDirs, tempDir } from './helpers.js';

const clouds: FakeCloud[] = [];
afterEach(async () => {
  await Promise.all(clouds.splice(0).map((c) => c.close()));
  removeTempDirs();
});

function open(stateFile: string, clock: SimulatedClock): FakeCloud {
  const cloud = new FakeCloud(fakeSettings({ stateFile }), { clock, random: seededRandom(1) });
  clouds.push(cloud);
  return cloud;
}

describe('fake cloud state file', () => {
  it('a cloud opened on the same file sees the servers, images and floating IPs of the one before, and ids keep counting', async () => {
    const clock = new SimulatedClock();
    const file = join(tempDir(), 'state', 'cloud.json');
    const before = open(file, clock);
    const imageId = before.addImage('trusty', { a: 'b' }).id;
    const fip = before.addFloatingIp();
    const sim = { clock, cloud: before, imageId };
    const first = await createNow(sim, { name: 'one' });
    await advance(clock, 10);
    const servers = await before.listServers();
    expect(servers.map((s) => s.status)).toEqual(['ACTIVE']);
    await before.close();

    const after = open(file, clock);
    expect(await after.listServers()).toEqual(servers);
    expect((await after.listImages()).map((i) => [i.id, i.name, i.properties])).toEqual([[imageId, 'trusty', { a: 'b' }]]);
    expect(await after.listFloatingIps()).toEqual([fip]);
    const second = await createNow({ clock, cloud: after, imageId }, { name: 'two' });
    expect(second).not.toBe(first);
    expect(after.server(second)?.addresses).not.toEqual(after.server(first)?.addresses);
  });

  it('a server that was in BUILD when the cloud stopped becomes ACTIVE on time after a reload', async () => {
    const clock = new SimulatedClock();
    const file = join(tempDir(), 'cloud.json');
    const before = open(file, clock);
    const imageId = before.addImage('trusty').id;
    const id = await createNow({ clock, cloud: before, imageId });
    await advance(clock, 4);
    await before.close();

    const after = open(file, clock);
    expect(after.server(id)?.status).toBe('BUILD');
    await advance(clock, 6);
    expect(after.server(id)?.status).toBe('ACTIVE');
  });

  it('transitions due while the cloud was stopped have happened when it is opened again', async () => {
    const clock = new SimulatedClock();
    const file = join(tempDir(), 'cloud.json');
    const before = open(file, clock);
    const imageId = before.addImage('trusty').id;
    const building = await createNow({ clock, cloud: before, imageId }, { name: 'building' });
    const deleting = await createNow({ clock, cloud: before, imageId }, { name: 'deleting' });
    await before.deleteServer(deleting);
    await before.close();

    clock.increment(3600_000);
    const after = open(file, clock);
    expect((await after.listServers()).map((s) => [s.id, s.status])).toEqual([[building, 'ACTIVE']]);
  });

  it('writes after every change through a temporary file, leaving only the state file', async () => {
    const clock = new SimulatedClock();
    const dir = tempDir();
    const file = join(dir, 'cloud.json');
    const cloud = open(file, clock);
    const imageId = cloud.addImage('trusty').id;
    expect(JSON.parse(readFileSync(file, 'utf8')).images).toHaveLength(1);
    const id = await createNow({ clock, cloud, imageId });
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    expect(stored.servers.map((s: { id: string }) => s.id)).toEqual([id]);
    expect(stored.servers[0].buildEndsAt).toBe(clock.now() + 10_000);
    expect(readdirSync(dir)).toEqual(['cloud.json']);
  });

  it('refuses a state file that is not valid, naming it', () => {
    const file = join(tempDir(), 'cloud.json');
    writeFileSync(file, '{"version": 1, "servers": [');
    expect(() => open(file, new SimulatedClock())).toThrow(FakeStateFileError);
    expect(() => open(file, new SimulatedClock())).toThrow(file);
    writeFileSync(file, '{"version": 2}');
    expect(() => open(file, new SimulatedClock())).toThrow(/unknown version 2/);
  });

  it('takes over at once a lock left by a process that was killed mid-write', () => {
    const clock = new SimulatedClock();
    const file = join(tempDir(), 'cloud.json');
    const first = open(file, clock);
    first.addImage('before');
    // A SIGKILLed daemon leaves its lock file, naming a pid that no longer runs.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(`${file}.lock`, dead);
    const started = Date.now();
    first.addImage('after');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(first.images().map((i) => i.name)).toEqual(['before', 'after']);
  });

  it('two clouds on one file see each other\'s changes', async () => {
    const clock = new SimulatedClock();
    const file = join(tempDir(), 'cloud.json');
    const launcher = open(file, clock);
    const builder = open(file, clock);
    const imageId = builder.addImage('trusty').id;
    const id = await createNow({ clock, cloud: launcher, imageId });
    expect(builder.server(id)?.status).toBe('BUILD');
    await builder.deleteImage(imageId);
    expect(await launcher.listImages()).toEqual([]);
    expect((await launcher.listServers()).map((s) => s.id)).toEqual([id]);
  });
});

