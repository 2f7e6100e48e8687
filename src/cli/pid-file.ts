import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { CommandFailure } from './failure.js';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else; still running.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims the pid file (`-p`): a file left by a dead process is replaced, one
 * of a live process refuses the start. Returns the release function.
 */
export function claimPidFile(path: string, pid: number = process.pid): () => void {
  let existing: number | undefined;
  try {
    existing = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined && Number.isInteger(existing) && existing !== pid && isRunning(existing)) {
    throw new CommandFailure(`already running with pid ${existing} (pid file ${path})`, { code: 'NP_DAEMON_RUNNING' });
  }
  try {
    writeFileSync(path, `${pid}\n`);
  } catch (err) {
    throw new CommandFailure(`cannot write pid file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { code: 'NP_DAEMON_PID_FILE' });
  }
  return () => {
    try {
      if (readFileSync(path, 'utf8').trim() === String(pid)) rmSync(path);
    } catch {
      // already gone
    }
  };
}
