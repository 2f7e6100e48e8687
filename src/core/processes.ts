/**
 * Questions about other processes on this host, asked before a daemon takes
 * over what a process left behind (a pid file, the database lease): a pid
 * that is alive may belong to an unrelated process that the kernel gave the
 * dead daemon's number.
 */
import { readFileSync } from 'node:fs';

/** Whether a process with this pid exists (one of another user counts). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process `pid` is running `program` (a word of its command
 * line ends with it, as `bin/nodepoold.js` or `nodepoold` does). Where the
 * command line cannot be read (no /proc), a live process is taken to be
 * the program: refusing a start wrongly is the safe mistake.
 */
export function runsProgram(pid: number, program: string): boolean {
  if (!isAlive(pid)) return false;
  let words: string[];
  try {
    words = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return true;
  }
  return words.some((word) => word.endsWith(program) || word.endsWith(`${program}.js`));
}
