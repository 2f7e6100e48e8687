import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Every file and directory a build wrote next to its output base
 * (`<base>.qcow2`, `<base>.qcow2.md5`, `<base>.d/`, `<base>.log`, ...), except
 * `keep` (the log of a failed build). A file already gone is not an error.
 */
export async function removeBuildOutput(outputBase: string, options: { keep?: string } = {}): Promise<string[]> {
  const dir = dirname(outputBase);
  const prefix = `${basename(outputBase)}.`;
  const entries = await readdir(dir).catch(() => [] as string[]);
  const keep = options.keep === undefined ? undefined : resolve(options.keep);
  const doomed = entries.filter((entry) => entry.startsWith(prefix) && resolve(join(dir, entry)) !== keep).map((entry) => join(dir, entry));
  await Promise.all(doomed.map((path) => rm(path, { recursive: true, force: true })));
  return doomed;
}
