import { ApiError, drain, isRecord, json, noContent, readJson, type Reply } from './http-kit.js';
import type { Token } from './identity-store.js';
import { UUID_PATTERN } from './ids.js';
import { ImageHasher, type Image } from './image-store.js';
import { pyRepr } from './python-repr.js';
import type { RequestContext, Route } from './router.js';
import { isoSeconds } from './time-format.js';

const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'];
const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'];
const VISIBILITIES = ['public', 'private', 'shared', 'community'];
const READ_ONLY = ['created_at', 'updated_at', 'status', 'checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size', 'direct_url', 'self', 'file', 'schema', 'locations'];
const RESERVED = ['owner_specified.openstack.md5', 'deleted', 'deleted_at', 'location'];
const CORE = ['id', 'name', 'disk_format', 'container_format', 'visibility', 'protected', 'min_disk', 'min_ram', 'tags', 'os_hidden', 'owner'];
const PAGE_DEFAULT = 25;
const PAGE_MAX = 1000;

/** Glance v2 images: create, upload (streamed), list, show, delete. */
export function glanceRoutes(): Route[] {
  const route = (method: string, template: string, handle: Route['handle'], auth = true): Route =>
    ({ service: 'image', method, template, auth, handle });
  return [
    route('GET', '/image', (ctx) => versions(ctx, 300), false),
    route('GET', '/image/', (ctx) => versions(ctx, 300), false),
    route('GET', '/image/versions', (ctx) => versions(ctx, 200), false),
    route('GET', '/image/v2/images', listImages),
    route('POST', '/image/v2/images', createImage),
    route('GET', '/image/v2/images/{id}', (ctx) => json(200, imageView(ctx, findImage(ctx)))),
    route('DELETE', '/image/v2/images/{id}', deleteImage),
    route('PUT', '/image/v2/images/{id}/file', uploadImage),
  ];
}

function versions(ctx: RequestContext, status: number): Reply {
  const ids = ['2.15', '2.9', '2.7', '2.6', '2.5', '2.4', '2.3', '2.2', '2.1', '2.0'];
  return json(status, {
    versions: ids.map((id, i) => ({ id: `v${id}`, status: i === 0 ? 'CURRENT' : 'SUPPORTED', links: [{ rel: 'self', href: `${ctx.endpoints.image}/v2/` }] })),
  });
}

/** glance/api/v2/images.py ResponseSerializer._format_image, default configuration (no locations shown). */
export function imageView(ctx: Pick<RequestContext, 'state'>, image: Image): Record<string, unknown> {
  return {
    ...image.properties,
    name: image.name,
    disk_format: image.diskFormat,
    container_format: image.containerFormat,
    visibility: image.visibility,
    size: image.size,
    virtual_size: null,
    status: ctx.state.images.status(image),
    checksum: image.checksum,
    protected: image.protected,
    min_ram: image.minRam,
    min_disk: image.minDisk,
    owner: image.owner,
    os_hidden: image.osHidden,
    os_hash_algo: image.osHashAlgo,
    os_hash_value: image.osHashValue,
    id: image.id,
    created_at: isoSeconds(image.createdAt),
    updated_at: isoSeconds(image.updatedAt),
    tags: [...image.tags],
    self: `/v2/images/${image.id}`,
    file: `/v2/images/${image.id}/file`,
    schema: '/v2/schemas/image',
  };
}

function visible(image: Image, token: Token): boolean {
  return image.owner === token.project.id || image.visibility === 'public';
}

function findImage(ctx: RequestContext): Image {
  const id = ctx.params.id ?? '';
  const image = ctx.state.images.images.get(id);
  if (!image || !visible(image, ctx.token as Token)) throw new ApiError(404, `No image found with ID ${id}`);
  return image;
}

function schemaError(reason: string): ApiError {
  return new ApiError(400, `Provided object does not match schema 'image': ${reason}`);
}

async function createImage(ctx: RequestContext): Promise<Reply> {
  const token = ctx.token as Token;
  const body = await readJson(ctx.req, 'Malformed JSON in request body.');
  if (!isRecord(body)) throw new ApiError(400, 'Body expected in request.');
  for (const key of Object.keys(body)) {
    if (READ_ONLY.includes(key)) throw new ApiError(403, `Attribute '${key}' is read-only.`);
    if (RESERVED.includes(key)) throw new ApiError(403, `Attribute '${key}' is reserved.`);
  }
  checkEnum(body.disk_format, DISK_FORMATS);
  checkEnum(body.container_format, CONTAINER_FORMATS);
  checkEnum(body.visibility, VISIBILITIES);
  if (body.name !== undefined && body.name !== null && (typeof body.name !== 'string' || body.name.length > 255)) {
    throw schemaError(`${pyRepr(body.name)} is not of type 'null', 'string'`);
  }
  if (body.id !== undefined && (typeof body.id !== 'string' || !UUID_PATTERN.test(body.id))) {
    throw schemaError(`${pyRepr(body.id)} does not match '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$'`);
  }
  if (typeof body.id === 'string' && ctx.state.images.images.has(body.id)) {
    throw new ApiError(409, `Image with identifier ${body.id} already exists!`);
  }
  const properties: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    if (CORE.includes(key)) continue;
    if (typeof value !== 'string') throw schemaError(`${pyRepr(value)} is not of type 'string'`);
    properties[key] = value;
  }
  const image = ctx.state.images.create({
    ...(typeof body.id === 'string' ? { id: body.id } : {}),
    name: typeof body.name === 'string' ? body.name : null,
    diskFormat: typeof body.disk_format === 'string' ? body.disk_format : null,
    containerFormat: typeof body.container_format === 'string' ? body.container_format : null,
    visibility: typeof body.visibility === 'string' ? body.visibility : 'shared',
    protected: body.protected === true,
    minDisk: typeof body.min_disk === 'number' ? body.min_disk : 0,
    minRam: typeof body.min_ram === 'number' ? body.min_ram : 0,
    osHidden: body.os_hidden === true,
    tags: Array.isArray(body.tags) ? body.tags.filter((t): t is string => typeof t === 'string') : [],
    owner: token.project.id,
    properties,
  });
  return json(201, imageView(ctx, image), {
    Location: `${ctx.endpoints.image}/v2/images/${image.id}`,
    'OpenStack-image-import-methods': 'glance-direct,web-download,copy-image',
  });
}

function checkEnum(value: unknown, allowed: string[]): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'string' || !allowed.includes(value)) throw schemaError(`${pyRepr(value)} is not one of ${pyRepr(allowed)}`);
}

/**
 * PUT /file: the body is hashed as it streams in and never kept. The image is
 * `saving` meanwhile and `active` once the last byte is in, as with Glance's
 * file store; a client that gives up midway leaves it `queued` again.
 */
async function uploadImage(ctx: RequestContext): Promise<Reply> {
  const image = findImage(ctx);
  const type = (ctx.req.headers['content-type'] ?? 'application/octet-stream').split(';')[0]?.trim();
  if (type !== 'application/octet-stream') {
    await drain(ctx.req);
    throw new ApiError(415, `Invalid content type ${type ?? ''}`);
  }
  const { images } = ctx.state;
  const status = images.status(image);
  if (status !== 'queued') {
    await drain(ctx.req);
    throw new ApiError(409, `Image status transition from ${status} to saving is not allowed`);
  }
  if (!image.diskFormat || !image.containerFormat) {
    await drain(ctx.req);
    const missing = ['disk_format', 'container_format'].filter((k) => (k === 'disk_format' ? !image.diskFormat : !image.containerFormat));
    throw new ApiError(400, `Propert${missing.length > 1 ? 'ies' : 'y'} ${missing.join(', ')} must be set prior to saving data.`);
  }
  images.startUpload(image);
  const hasher = new ImageHasher(images.hashAlgorithm);
  try {
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) hasher.update(chunk);
  } catch (error) {
    images.abandonUpload(image);
    throw error;
  }
  if (!ctx.req.complete) {
    images.abandonUpload(image);
    throw new ApiError(400, 'Upload interrupted');
  }
  // Deleted while the data was coming in: nothing left to activate.
  if (!images.images.has(image.id)) return noContent();
  images.finishUpload(image, hasher.digest());
  return noContent();
}

function deleteImage(ctx: RequestContext): Reply {
  const image = findImage(ctx);
  if (image.protected) throw new ApiError(403, `Image ${image.id} is protected and cannot be deleted.`);
  ctx.state.images.images.delete(image.id);
  return noContent();
}

/** GET /v2/images: visible images, filtered by name, status, visibility or any property; newest first; paged. */
function listImages(ctx: RequestContext): Reply {
  const token = ctx.token as Token;
  const { url } = ctx;
  const params = new URLSearchParams(url.searchParams);
  const limit = pageSize(params.get('limit'));
  const sortKey = params.get('sort_key') ?? 'created_at';
  const sortDir = params.get('sort_dir') ?? 'desc';
  let images = [...ctx.state.images.images.values()].filter((i) => visible(i, token) && matchesFilters(ctx, i, params));
  images.sort((a, b) => compareImages(ctx, a, b, sortKey) * (sortDir === 'asc' ? 1 : -1));
  const marker = params.get('marker');
  if (marker !== null) {
    const index = images.findIndex((i) => i.id === marker);
    if (index < 0) throw new ApiError(400, `Invalid marker. Image ${marker} could not be found.`);
    images = images.slice(index + 1);
  }
  const page = images.slice(0, limit);
  params.delete('marker');
  const query = params.toString();
  const body: Record<string, unknown> = {
    images: page.map((i) => imageView(ctx, i)),
    first: query ? `/v2/images?${query}` : '/v2/images',
    schema: '/v2/schemas/images',
  };
  const last = page[page.length - 1];
  if (page.length === limit && last) {
    params.set('marker', last.id);
    body.next = `/v2/images?${params.toString()}`;
  }
  return json(200, body);
}

function pageSize(text: string | null): number {
  if (text === null) return PAGE_DEFAULT;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new ApiError(400, 'limit param must be positive');
  return Math.min(n, PAGE_MAX);
}

const NOT_FILTERS = new Set(['limit', 'marker', 'sort_key', 'sort_dir', 'sort']);

function matchesFilters(ctx: RequestContext, image: Image, params: URLSearchParams): boolean {
  const view = imageView(ctx, image);
  for (const [key, value] of params) {
    if (NOT_FILTERS.has(key)) continue;
    if (String(view[key] ?? '') !== value) return false;
  }
  return true;
}

function compareImages(ctx: RequestContext, a: Image, b: Image, key: string): number {
  const va = imageView(ctx, a)[key];
  const vb = imageView(ctx, b)[key];
  const primary = String(va ?? '').localeCompare(String(vb ?? ''), undefined, { numeric: true });
  return primary !== 0 ? primary : a.createdAt - b.createdAt || a.id.localeCompare(b.id);
}
