/** Reads one configuration file, turning the usual failures into one clear sentence. */
import { readFileSync, statSync } from 'node:fs';

export type ReadResult = { text: string } | { error: string };

/** `what` names the file's role in the message: "configuration file", "secure file". */
export function readTextFile(file: string, what: string): ReadResult {
  try {
    if (statSync(file).isDirectory()) return { error: `${what} is a directory, not a file` };
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
