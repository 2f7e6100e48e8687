/**
 * The image a node boots from (docs/behaviour.md, launch step 3): the
 * newest ready upload of the label's image in the provider; where the cloud
 * offers stand-in images (the simulated cloud), until a build is uploaded,
 * the active image named like the provider image.
 */
import type { ProviderImage } from '../config/types.js';
import type { Database } from '../db/index.js';
import type { ProviderGateway } from '../gateway/index.js';

export interface BootImage {
  imageId: string;
  /** The upload record it came from; null for a stand-in image. */
  uploadId: number | null;
}

export async function bootImage(db: Database, gateway: ProviderGateway, image: ProviderImage): Promise<BootImage | undefined> {
  const upload = await db.uploads.newestReady(image.name, gateway.name);
  if (upload?.externalId) return { imageId: upload.externalId, uploadId: upload.id };
  if (!gateway.capabilities.bootsFromImageName) return undefined;
  const named = (await gateway.cloudImages()).find((i) => i.name === image.name && i.status === 'active');
  return named ? { imageId: named.id, uploadId: null } : undefined;
}
