/**
 * The disk-image-create command line and environment nodepool uses to build a
 * diskimage (docs/behaviour.md, "Images"). Pure: no process is started here.
 */
import { join } from 'node:path';
import type { DiskImage, Provider, ProviderImage } from '../config/types.js';

export interface DibInvocationInput {
  diskimage: DiskImage;
  /** Output formats (`-t`), e.g. from imageTypesFor(). */
  types: string[];
  imagesDir: string;
  elementsDir?: string;
  buildId: string | number;
  /** The environment to start from; process.env when absent. */
  env?: Record<string, string | undefined>;
}

export interface DibInvocation {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** `<imagesDir>/<name>-<buildId>`: every output file is this plus `.<ext>`. */
  outputBase: string;
  /** The requested types, in the order passed with `-t`. */
  types: string[];
  /** env-vars of the diskimage that were dropped because nodepool owns them. */
  ignoredEnvVars: string[];
}

/** Set by nodepool alone: a diskimage's env-vars cannot change them. */
export const NODEPOOL_DIB_VARIABLES = ['DIB_RELEASE', 'DIB_IMAGE_NAME', 'DIB_IMAGE_FILENAME', 'ELEMENTS_PATH'] as const;

/**
 * The image cache of one diskimage. Builds of different diskimages run at the
 * same time each with their own cache (a shared one dies on the apt lock);
 * builds of the same diskimage never overlap (one build lease per diskimage),
 * so they can share and reuse theirs.
 */
export function imageCacheDir(imagesDir: string, diskimageName: string): string {
  return join(imagesDir, '.cache', diskimageName);
}

export function dibInvocation(input: DibInvocationInput): DibInvocation {
  const { diskimage, imagesDir, elementsDir } = input;
  if (input.types.length === 0) throw new Error(`diskimage ${diskimage.name}: no image types to build`);
  const types = [...new Set(input.types)];
  const [command, ...cmdArgs] = diskimage.dibCmd.trim().split(/\s+/);
  if (!command) throw new Error(`diskimage ${diskimage.name}: dib-cmd is empty`);
  const outputBase = join(imagesDir, `${diskimage.name}-${input.buildId}`);

  const args = [...cmdArgs, '-x', '-t', types.join(','), '--checksum', '--no-tmpfs'];
  if (types.includes('qcow2')) args.push('--qemu-img-options', 'compat=0.10');
  args.push('-o', outputBase, ...diskimage.elements);

  const env = definedOnly(input.env ?? process.env);
  // An inherited DIB_RELEASE would silently pick a release the config did not ask for.
  for (const name of NODEPOOL_DIB_VARIABLES) delete env[name];
  env.DIB_IMAGE_CACHE = imageCacheDir(imagesDir, diskimage.name);
  const ignoredEnvVars: string[] = [];
  for (const [key, value] of Object.entries(diskimage.envVars)) {
    if ((NODEPOOL_DIB_VARIABLES as readonly string[]).includes(key)) ignoredEnvVars.push(key);
    else env[key] = value;
  }
  if (diskimage.release !== '') env.DIB_RELEASE = diskimage.release;
  env.DIB_IMAGE_NAME = diskimage.name;
  env.DIB_IMAGE_FILENAME = outputBase;
  if (elementsDir) env.ELEMENTS_PATH = elementsDir;

  return { command, args: [...args], env, outputBase, types, ignoredEnvVars };
}

/** The part of a NodepoolConfig imageTypesFor reads. */
export interface ProvidersOnly {
  providers: readonly (Pick<Provider, 'imageType'> & { images: readonly Pick<ProviderImage, 'name' | 'diskimage'>[] })[];
}

/**
 * The types to build for a diskimage: the image-type of every provider with an
 * image entry that uses it (by its `diskimage` key, which defaults to the
 * entry's name), in provider order without repeats; qcow2 when none does.
 */
export function imageTypesFor(config: ProvidersOnly, diskimageName: string): string[] {
  const types: string[] = [];
  for (const provider of config.providers) {
    const uses = provider.images.some((image) => (image.diskimage || image.name) === diskimageName);
    if (uses && !types.includes(provider.imageType)) types.push(provider.imageType);
  }
  return types.length > 0 ? types : ['qcow2'];
}

/** The file extension disk-image-create gives a type; undefined when it writes no file. */
export function fileExtension(type: string): string | undefined {
  if (type === 'docker') return undefined;
  if (type === 'squashfs') return 'squash';
  return type;
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}
