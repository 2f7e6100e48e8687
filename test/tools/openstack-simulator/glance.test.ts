import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { call, Client, simulator, waitFor } from './helpers.js';

const MIB = 1024 * 1024;

/** A body of `chunks` MiB made on the fly, hashed as it goes, as a builder streams a disk image. */
function streamedBody(chunks: number): { stream: ReadableStream<Uint8Array>; digests: () => Record<string, string> } {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  const sha512 = createHash('sha512');
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === chunks) {
        controller.close();
        return;
      }
      const chunk = Buffer.alloc(MIB, sent % 251);
      chunk.writeUInt32BE(sent, 0);
      for (const hash of [md5, sha256, sha512]) hash.update(chunk);
      sent += 1;
      controller.enqueue(chunk);
    },
  });
  return { stream, digests: () => ({ md5: md5.digest('hex'), sha256: sha256.digest('hex'), sha512: sha512.digest('hex') }) };
}

describe('Glance v2 images of the OpenStack simulator', () => {
  it('creates a queued image with custom properties as top-level keys, 201 and a Location', async () => {
    const sim = await simulator();
    const client = await Client.login(sim);
    const created = await client.image('POST', '/v2/images', {
      name: 'ubuntu-jammy-1700000000', disk_format: 'qcow2', container_format: 'bare', nodepool_build_id: '0000000001',
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`${sim.endpoints.image}/v2/images/${created.body.id}`);
    expect(created.body).toMatchObject({
      name: 'ubuntu-jammy-1700000000', status: 'queued', disk_format: 'qcow2', container_format: 'bare', visibility: 'shared',
      size: null, checksum: null, os_hash_algo: null, os_hash_value: null, nodepool_build_id: '0000000001',
      owner: sim.credentials.projectId, protected: false, tags: [], self: `/v2/images/${created.body.id}`,
      file: `/v2/images/${created.body.id}/file`, schema: '/v2/schemas/image',
    });
    expect(sim.image(created.body.id)?.properties).toEqual({ nodepool_build_id: '0000000001' });

    const bad = await client.image('POST', '/v2/images', { name: 'x', disk_format: 'floppy' });
    expect(bad.status).toBe(400);
    expect(bad.body.title).toBe('Bad Request');
    const readOnly = await client.image('POST', '/v2/images', { name: 'x', status: 'active' });
    expect(readOnly.status).toBe(403);
  });

  it('takes a streamed multi-MB upload, then the image is active with Glance size, md5 checksum and sha512 hash', async () => {
    const sim = await simulator();
    const client = await Client.login(sim);
    const id: string = (await client.image('POST', '/v2/images', { name: 'big', disk_format: 'raw', container_format: 'bare' })).body.id;
    const { stream, digests } = streamedBody(12);

    const upload = await fetch(`${sim.endpoints.image}/v2/images/${id}/file`, {
      method: 'PUT',
      headers: { 'x-auth-token': client.token, 'content-type': 'application/octet-stream' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(upload.status).toBe(204);
    expect(await upload.text()).toBe('');

    const expected = digests();
    const image = (await client.image('GET', `/v2/images/${id}`)).body;
    expect(image).toMatchObject({ status: 'active', size: 12 * MIB, checksum: expected.md5, os_hash_algo: 'sha512', os_hash_value: expected.sha512 });
    expect(sim.image(id)).toMatchObject({ sha256: expected.sha256, size: 12 * MIB });

    const again = await client.image('PUT', `/v2/images/${id}/file`, undefined, { 'content-type': 'application/octet-stream' });
    expect(again.status).toBe(409);
    expect(again.body.message).toBe('Image status transition from active to saving is not allowed<br /><br />\n\n\n');
  });

  it('is saving while the data comes in, and queued again when the client gives up midway', async () => {
    const sim = await simulator();
    const client = await Client.login(sim);
    const id: string = (await client.image('POST', '/v2/images', { name: 'slow', disk_format: 'raw', container_format: 'bare' })).body.id;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const abort = new AbortController();
    let pulls = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        pulls += 1;
        if (pulls === 1) controller.enqueue(Buffer.alloc(MIB));
        else await held;
      },
    });
    const upload = fetch(`${sim.endpoints.image}/v2/images/${id}/file`, {
      method: 'PUT', headers: { 'x-auth-token': client.token, 'content-type': 'application/octet-stream' },
      body: stream, duplex: 'half', signal: abort.signal,
    } as RequestInit).catch((error: unknown) => error);

    await waitFor(() => (sim.image(id)?.status === 'saving' ? true : undefined), 5000, 'the image to be saving');
    abort.abort();
    release();
    await upload;
    await waitFor(() => (sim.image(id)?.status === 'queued' ? true : undefined), 5000, 'the image to be queued again');
  });

  it('with os_hash sha256 configured, os_hash_value is the sha256 of the data', async () => {
    const sim = await simulator({ imageHashAlgorithm: 'sha256' });
    const client = await Client.login(sim);
    const id: string = (await client.image('POST', '/v2/images', { name: 'small', disk_format: 'raw', container_format: 'bare' })).body.id;
    const data = Buffer.from('hello image');
    const upload = await call(`${sim.endpoints.image}/v2/images/${id}/file`, {
      method: 'PUT', headers: { 'x-auth-token': client.token, 'content-type': 'application/octet-stream' }, body: data,
    });
    expect(upload.status).toBe(204);
    const image = (await client.image('GET', `/v2/images/${id}`)).body;
    expect(image).toMatchObject({ os_hash_algo: 'sha256', os_hash_value: createHash('sha256').update(data).digest('hex'), size: data.length });
  });

  it('lists images with a name filter and Glance paging (first, next, schema)', async () => {
    const sim = await simulator();
    const client = await Client.login(sim);
    for (const name of ['a', 'b', 'c']) await client.image('POST', '/v2/images', { name, disk_format: 'raw', container_format: 'bare' });

    const byName = (await client.image('GET', '/v2/images?name=b')).body;
    expect(byName.images.map((i: { name: string }) => i.name)).toEqual(['b']);
    expect(byName).toMatchObject({ first: '/v2/images?name=b', schema: '/v2/schemas/images' });
    expect(byName.next).toBeUndefined();

    const names: string[] = [];
    let path: string | undefined = '/v2/images?limit=2';
    while (path) {
      const page: { images: Array<{ name: string }>; next?: string } = (await client.image('GET', path)).body;
      names.push(...page.images.map((i) => i.name));
      path = page.next;
    }
    expect(names.sort()).toEqual(['a', 'b', 'c', 'cirros-fake']);
  });

  it('deletes an image: 204, then 404 in WebOb form (JSON when asked for JSON, HTML otherwise)', async () => {
    const sim = await simulator();
    const client = await Client.login(sim);
    const id: string = (await client.image('POST', '/v2/images', { name: 'gone', disk_format: 'raw', container_format: 'bare' })).body.id;
    expect((await client.image('DELETE', `/v2/images/${id}`)).status).toBe(204);
    const json = await client.image('GET', `/v2/images/${id}`);
    expect(json.status).toBe(404);
    expect(json.body).toEqual({ message: `No image found with ID ${id}<br /><br />\n\n\n`, code: '404 Not Found', title: 'Not Found' });
    const html = await call(`${sim.endpoints.image}/v2/images/${id}`, { headers: { 'x-auth-token': client.token } });
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.text).toContain('<title>404 Not Found</title>');
    expect((await client.image('DELETE', `/v2/images/${id}`)).status).toBe(404);
    expect(sim.image(id)).toBeUndefined();
  });
});
