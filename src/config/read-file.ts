/** Reads one configuration file, turning the usual failures into one clear sentence. */
import { readFileSync, statSync } from 'node:fs';

export type ReadResult = { text: string } | { error: string };

/**
 * The largest configuration file read: thousands of labels and providers
 * fit in a fraction of it, and a larger file (a wrong path, a generated
 * file gone wrong) would take seconds and gigabytes to validate.
 */
export const MAX_CONFIG_FILE_BYTES = 5 * 1024 * 1024;

/**
 * `what` names the file's role in the message: "configuration file", "secure file".
 * Only a regular file is read, and only up to MAX_CONFIG_FILE_BYTES: `-c
 * /dev/zero` would grow without end and a FIFO would block.
 */
export function readTextFile(file: string, what: string): ReadResult {
  try {
    const stat = statSync(file);
    if (stat.isDirectory()) return { error: `${what} is a directory, not a file` };
    if (!stat.isFile()) return { error: `${what} is not a regular file (a device, a pipe or a socket); give the path of a file` };
    if (stat.size > MAX_CONFIG_FILE_BYTES) {
      return { error: `${what} is ${(stat.size / 1024 / 1024).toFixed(1)} MB; a configuration file may be at most ${MAX_CONFIG_FILE_BYTES / 1024 / 1024} MB` };
    }
    return { text: readFileSync(file, 'utf8') };
  } catch (err) {
    return { error: `${what} ${reason(err)}` };
  }
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'not found';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read: permission denied';
    case 'ENOTDIR':
      return 'not found (a part of its path is not a directory)';
    case 'EISDIR':
      return 'is a directory, not a file';
    default:
      return `cannot be read: ${code ?? (err as Error).message}`;
  }
}
