import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DriverError } from '../../../src/drivers/driver.js';
import { advance, removeTempDirs, simCloud, tempDir, until, type Sim } from './helpers.js';

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.cloud.close();
  sim = undefined;
  removeTempDirs();
});

const properties = { nodepool_build_id: '4', nodepool_upload_id: '7', distro: 'fedora' };

describe('fake cloud images', () => {
  it('an upload reads the whole file, records its size and SHA-256, and the image is active after the upload latency', async () => {
    sim = simCloud();
    const file = join(tempDir(), 'fedora-0000000004.qcow2');
    const content = Buffer.alloc(3 * 1024 * 1024 + 17, 'x');
    writeFileSync(file, content);

    let done = false;
    const pending = sim.cloud.uploadImage({ name: 'fedora-1700000000', filePath: file, diskFormat: 'qcow2', properties })
      .then((r) => { done = true; return r; });
    await until(() => sim!.cloud.pendingTimers > 0, 'the upload to wait out its latency');

    const saving = (await sim.cloud.listImages()).find((i) => i.name === 'fedora-1700000000');
    expect(saving).toMatchObject({ status: 'saving', properties, diskFormat: 'qcow2' });
    await advance(sim.clock, 29);
    expect(done).toBe(false);
    await advance(sim.clock, 1);
    const { id } = await pending;

    expect(sim.cloud.imageRecord(id)).toMatchObject({
      size: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
    });
    expect((await sim.cloud.listImages()).find((i) => i.id === id)).toEqual({
      id, name: 'fedora-1700000000', status: 'active', properties, diskFormat: 'qcow2',
    });
  });

  it('an upload of a missing file fails clearly, naming the file, and leaves no image', async () => {
    sim = simCloud();
    const missing = join(tempDir(), 'nope.qcow2');
    const error = await sim.cloud.uploadImage({ name: 'x', filePath: missing, diskFormat: 'qcow2', properties: {} })
      .then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DriverError);
    expect(error).toMatchObject({ kind: 'bad-request' });
    expect((error as Error).message).toContain(missing);
    expect((error as Error).message).toContain('ENOENT');
    expect((await sim.cloud.listImages()).map((i) => i.name)).toEqual(['trusty']);
  });

  it('with failure-rate.upload an upload fails like a Glance 500 and leaves no image', async () => {
    sim = simCloud({ failureRate: { upload: 1 } });
    const file = join(tempDir(), 'fedora-9.qcow2');
    writeFileSync(file, 'image');
    const error = await sim.cloud.uploadImage({ name: 'fedora-1', filePath: file, diskFormat: 'qcow2', properties })
      .then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ kind: 'unavailable', details: { service: 'image', status: 500 } });
    expect((error as DriverError).retryable).toBe(true);
    expect((await sim.cloud.listImages()).map((i) => i.name)).toEqual(['trusty']);
  });

  it('seeded images are listed and usable at once; deleting an image (known or not) resolves', async () => {
    sim = simCloud();
    expect(await sim.cloud.listImages()).toEqual([
      { id: sim.imageId, name: 'trusty', status: 'active', properties: { distro: 'ubuntu' }, diskFormat: 'qcow2' },
    ]);
    await sim.cloud.deleteImage(sim.imageId);
    await sim.cloud.deleteImage(sim.imageId);
    await sim.cloud.deleteImage('unknown');
    expect(await sim.cloud.listImages()).toEqual([]);
  });

  it('a server cannot boot from an image still being uploaded', async () => {
    sim = simCloud({ latency: { create: 0 } });
    const file = join(tempDir(), 'img.qcow2');
    writeFileSync(file, 'image');
    const upload = sim.cloud.uploadImage({ name: 'img', filePath: file, diskFormat: 'qcow2', properties: {} });
    await until(() => sim!.cloud.pendingTimers > 0, 'the upload to start');
    const image = (await sim.cloud.listImages()).find((i) => i.name === 'img')!;
    const error = await sim.cloud.createServer({ name: 's', imageId: image.id, flavorId: 'm1.small', metadata: {} })
      .then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ kind: 'bad-request', message: `Image ${image.id} is not active.` });
    await advance(sim.clock, 30);
    await upload;
  });
});

describe('fake cloud floating IPs', () => {
  it('seeded floating IPs are listed and deleted; an unknown one deletes quietly', async () => {
    sim = simCloud();
    const free = sim.cloud.addFloatingIp();
    const used = sim.cloud.addFloatingIp({ attached: true });
    expect(free.address).toMatch(/^127\.(19[2-9]|2[0-5]\d)\./);
    expect(await sim.cloud.listFloatingIps()).toEqual([free, used]);
    await sim.cloud.deleteFloatingIp(free.id);
    await sim.cloud.deleteFloatingIp('unknown');
    expect(await sim.cloud.listFloatingIps()).toEqual([used]);
  });
});
