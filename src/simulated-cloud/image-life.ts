/**
 * A simulated image's upload, the same for both simulated clouds: Glance's
 * status worked out from clock times when asked, as servers' are
 * (server-life.ts). An image is `queued` until its data starts to come in,
 * `saving` until its active time, then `active`.
 */
export interface ImageLife {
  /** When the data started to come in; absent until then (and again after an interrupted upload). */
  savingSince?: number;
  /**
   * When the upload is complete and the image usable. The fake cloud sets it
   * when the upload is asked for (upload latency ahead); the OpenStack
   * simulator when the last byte is in.
   */
  activeAt?: number;
}

export type ImageLifeStatus = 'queued' | 'saving' | 'active';

export function imageStatus(image: ImageLife, now: number): ImageLifeStatus {
  if (image.activeAt !== undefined) return now >= image.activeAt ? 'active' : 'saving';
  return image.savingSince === undefined ? 'queued' : 'saving';
}
