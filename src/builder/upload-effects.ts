/**
 * The effects of the image-upload machine: putting a ready build's file into
 * a provider's cloud, and deleting it from there. Each image carries the
 * properties `nodepool_build_id` and `nodepool_upload_id` (and the provider
 * image's meta), which is how a repeated attempt finds the image an earlier
 * one made, and how alien-image-list tells nodepool's images from others.
 */
import { stat } from 'node:fs/promises';
import { fromPromise } from 'xstate';
import type { NodepoolConfig, Provider } from '../config/types.js';
import type { Database } from '../db/index.js';
import type { CloudImage } from '../drivers/driver.js';
import { fileExtension } from '../dib/index.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../log/index.js';
import type { PoolMetrics } from '../metrics/index.js';
import { imageUploadMachine } from '../../machines/image-upload.machine.js';
import { buildOutputBase } from './build-effects.js';
import type { GatewayRegistry, ProviderGateway } from '../gateway/index.js';

export interface UploadEffectsOptions {
  db: Database;
  config: () => NodepoolConfig;
  /** Every cloud call goes through the provider's gateway. */
  gateways: GatewayRegistry;
  log: Logger;
  /** Where ended upload attempts are counted, with how long each took. */
  metrics?: Pick<PoolMetrics, 'uploadEnded'>;
  clock?: Clock;
}

export const BUILD_ID_PROPERTY = 'nodepool_build_id';
export const UPLOAD_ID_PROPERTY = 'nodepool_upload_id';

function imagesOfUpload(images: readonly CloudImage[], uploadId: number): CloudImage[] {
  return images.filter((i) => i.properties[UPLOAD_ID_PROPERTY] === String(uploadId) && i.status !== 'deleted');
}

export function imageUploadMachineWithEffects(options: UploadEffectsOptions) {
  const { db, log } = options;
  const providerOf = (name: string): Provider | undefined => options.config().providers.find((p) => p.name === name);
  const gatewayOf = (provider: Provider): ProviderGateway => options.gateways.open(provider);
  /** The attempt under way per upload: what it is and when it began, for the metrics. */
  const attempts = new Map<number, { image: string; provider: string; startedAt: number }>();
  const count = (uploadId: number, result: 'ready' | 'failed') => {
    const attempt = attempts.get(uploadId);
    attempts.delete(uploadId);
    if (!attempt || !options.metrics) return;
    const ms = options.clock ? options.clock.now() - attempt.startedAt : undefined;
    options.metrics.uploadEnded({ image: attempt.image, provider: attempt.provider, result, ...(ms !== undefined && { ms }) });
  };

  return imageUploadMachine.provide({
    actors: {
      uploadImage: fromPromise<{ externalId: string }, { uploadId: number }>(async ({ input }) => {
        const upload = await db.uploads.get(input.uploadId);
        if (!upload) throw new Error(`upload ${input.uploadId} no longer exists`);
        attempts.set(upload.id, { image: upload.image, provider: upload.provider, startedAt: options.clock?.now() ?? 0 });
        const build = await db.builds.get(upload.buildId);
        if (!build || build.state !== 'ready') throw new Error(`build ${upload.buildId} is not ready`);
        const provider = providerOf(upload.provider);
        const entry = provider?.images.find((i) => i.name === upload.image);
        if (!provider || !entry) throw new Error(`${upload.image} is no longer an image of provider ${upload.provider}`);

        const gateway = gatewayOf(provider);
        // An earlier attempt (before a crash or a lost answer) may have made the image already.
        const earlier = imagesOfUpload(await gateway.call('listImages', (d) => d.listImages()), upload.id);
        const active = earlier.find((i) => i.status === 'active');
        if (active) return { externalId: active.id };
        for (const stale of earlier) await gateway.call('deleteImage', (d) => d.deleteImage(stale.id));

        const ext = fileExtension(provider.imageType) ?? provider.imageType;
        const filePath = `${build.filename ?? buildOutputBase(options.config(), build.image, build.id)}.${ext}`;
        const file = await stat(filePath).catch(() => undefined);
        if (!file?.isFile()) throw new Error(`build ${build.id} has no ${provider.imageType} file at ${filePath}`);
        log.info({ upload: upload.id, provider: provider.name, file: filePath }, `uploading build ${build.id} to ${provider.name} as ${upload.externalName}`);
        const { id } = await gateway.call('uploadImage', (d) =>
          d.uploadImage({
            name: upload.externalName ?? `${upload.image}-${upload.id}`,
            filePath,
            diskFormat: provider.imageType,
            properties: { ...entry.meta, [BUILD_ID_PROPERTY]: String(build.id), [UPLOAD_ID_PROPERTY]: String(upload.id) },
          }),
        );
        return { externalId: id };
      }),
      deleteProviderImage: fromPromise<void, { uploadId: number; externalId?: string }>(async ({ input }) => {
        const upload = await db.uploads.get(input.uploadId);
        const provider = upload ? providerOf(upload.provider) : undefined;
        if (!upload || !provider) {
          // Without the provider's settings there is no way into its cloud.
          log.warn(
            { upload: input.uploadId, image: input.externalId },
            `upload ${input.uploadId}: provider ${upload?.provider ?? '(unknown)'} is no longer configured; its image ${input.externalId ?? ''} is left in the cloud`,
          );
          return;
        }
        const gateway = gatewayOf(provider);
        const externalId = input.externalId ?? upload.externalId ?? undefined;
        const ids = externalId
          ? [externalId]
          : imagesOfUpload(await gateway.call('listImages', (d) => d.listImages()), upload.id).map((i) => i.id);
        for (const id of ids) await gateway.call('deleteImage', (d) => d.deleteImage(id));
        log.info({ upload: upload.id, provider: provider.name, images: ids }, `upload ${upload.id} deleted from ${provider.name}`);
      }),
    },
    actions: {
      reportUploadResult: (_, outcome) => {
        count(outcome.uploadId, outcome.outcome);
        if (outcome.outcome === 'ready') log.info({ upload: outcome.uploadId, image: outcome.externalId }, `upload ${outcome.uploadId} is ready`);
        else {
          const next = outcome.willRetry ? 'it is tried again after a pause' : 'no more attempts';
          log.error({ upload: outcome.uploadId, attempts: outcome.attempts }, `upload ${outcome.uploadId} failed: ${outcome.error}; ${next}`);
        }
      },
      reportDeleteFailure: ({ context }, failure) => {
        const { uploadId } = context as { uploadId: number };
        const message = `deleting upload ${uploadId} from its cloud failed (attempt ${failure.attempts}): ${failure.error}; trying again in ${failure.retryInMs / 1000} s`;
        if (failure.persistent) log.error({ upload: uploadId, attempts: failure.attempts }, message);
        else log.warn({ upload: uploadId, attempts: failure.attempts }, message);
      },
    },
  });
}
