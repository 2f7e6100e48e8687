import { createHash, type Hash } from 'node:crypto';
import { imageStatus, type ImageLife, type ImageLifeStatus } from '../../simulated-cloud/index.js';
import { uuid } from './ids.js';
import type { ImageSeed } from './options.js';

/** A Glance image: its upload's life (queued, saving, active, see src/simulated-cloud/) and Glance's attributes. */
export interface Image extends ImageLife {
  id: string;
  name: string | null;
  diskFormat: string | null;
  containerFormat: string | null;
  visibility: string;
  protected: boolean;
  minDisk: number;
  minRam: number;
  owner: string;
  osHidden: boolean;
  tags: string[];
  /** Custom properties, shown as top-level keys as Glance does. */
  properties: Record<string, string>;
  size: number | null;
  checksum: string | null;
  osHashAlgo: string | null;
  osHashValue: string | null;
  /** Not in the API: kept so tests can check the upload whatever the hash algorithm. */
  sha256: string | null;
  createdAt: number;
  updatedAt: number;
}

/** md5 (Glance's `checksum`), the configured os_hash and sha256, fed chunk by chunk. */
export class ImageHasher {
  private readonly md5: Hash = createHash('md5');
  private readonly osHash: Hash;
  private readonly sha256: Hash = createHash('sha256');
  size = 0;

  constructor(readonly algorithm: 'sha512' | 'sha256') {
    this.osHash = createHash(algorithm);
  }

  update(chunk: Buffer): void {
    this.size += chunk.length;
    this.md5.update(chunk);
    this.osHash.update(chunk);
    this.sha256.update(chunk);
  }

  digest(): { size: number; checksum: string; osHashValue: string; sha256: string } {
    return {
      size: this.size, checksum: this.md5.digest('hex'), osHashValue: this.osHash.digest('hex'), sha256: this.sha256.digest('hex'),
    };
  }
}

export class ImageStore {
  readonly images = new Map<string, Image>();

  constructor(private readonly now: () => number, readonly hashAlgorithm: 'sha512' | 'sha256') {}

  /** Glance's status of the image now: queued, saving or active, from its times (src/simulated-cloud/). */
  status(image: Image): ImageLifeStatus {
    return imageStatus(image, this.now());
  }

  create(fields: Partial<Image> & { owner: string }): Image {
    const now = this.now();
    const image: Image = {
      id: uuid(), name: null, diskFormat: null, containerFormat: null, visibility: 'shared',
      protected: false, minDisk: 0, minRam: 0, osHidden: false, tags: [], properties: {}, size: null, checksum: null,
      osHashAlgo: null, osHashValue: null, sha256: null, createdAt: now, updatedAt: now, ...fields,
    };
    this.images.set(image.id, image);
    return image;
  }

  seed(seed: ImageSeed, owner: string): Image {
    const image = this.create({
      id: seed.id ?? uuid(), name: seed.name, owner, visibility: seed.visibility ?? 'public',
      diskFormat: seed.diskFormat ?? 'raw', containerFormat: seed.containerFormat ?? 'bare',
      properties: { ...seed.properties },
    });
    if ((seed.status ?? 'active') === 'active') this.finishUpload(image, zeroHashes(seed.size ?? 0, this.hashAlgorithm));
    return image;
  }

  /** The data starts to come in: `saving`. */
  startUpload(image: Image): void {
    image.savingSince = this.now();
    image.updatedAt = image.savingSince;
  }

  /** The client gave up midway: `queued` again, as Glance's file store leaves it. */
  abandonUpload(image: Image): void {
    delete image.savingSince;
    image.updatedAt = this.now();
  }

  /** The last byte is in: `active` at once, with the data's size and hashes. */
  finishUpload(image: Image, result: ReturnType<ImageHasher['digest']>): void {
    const now = this.now();
    Object.assign(image, {
      activeAt: now, size: result.size, checksum: result.checksum, osHashAlgo: this.hashAlgorithm,
      osHashValue: result.osHashValue, sha256: result.sha256, updatedAt: now,
    });
  }
}

function zeroHashes(size: number, algorithm: 'sha512' | 'sha256'): ReturnType<ImageHasher['digest']> {
  const hasher = new ImageHasher(algorithm);
  const block = Buffer.alloc(Math.min(size, 1024 * 1024));
  for (let left = size; left > 0; left -= block.length) hasher.update(left >= block.length ? block : block.subarray(0, left));
  return hasher.digest();
}
