import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { runsProgram } from '../core/processes.js';
import { CommandFailure } from './failure.js';

/**
 * Claims the pid file (`-p`) for `program`: a file left by a process that
 * is gone, or whose pid now belongs to another program, is replaced; one of
 * a live `program` refuses the start. Returns the release function.
 */
export function claimPidFile(path: string, program: string, pid: number = process.pid): () => void {
  let existing: number | undefined;
  try {
    existing = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined && Number.isInteger(existing) && existing !== pid && runsProgram(existing, program)) {
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
