import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { emptyState, prune, stateProblem, type FakeCloudState } from './state.js';
import { NodepoolError } from '../../core/errors.js';

/** Where the fake cloud keeps its state: in memory, or in memory backed by a file. */
export interface Store {
  /** The current state, to read only. */
  read(): FakeCloudState;
  /** Applies a change; a change that throws writes nothing. */
  update<T>(change: (state: FakeCloudState) => T): T;
}

export class MemoryStore implements Store {
  private readonly state = emptyState();

  constructor(private readonly now: () => number) {}

  read(): FakeCloudState {
    return this.state;
  }

  update<T>(change: (state: FakeCloudState) => T): T {
    const result = change(this.state);
    prune(this.state, this.now());
    return result;
  }
}

/** The state file could not be read or written; names the file so an operator can fix or remove it. */
export class FakeStateFileError extends NodepoolError {
  constructor(readonly file: string, problem: string) {
    super('NP_CLOUD_STATE_FILE', `fake cloud state file ${file}: ${problem}`);
    this.name = 'FakeStateFileError';
  }
}

const LOCK_STALE_MS = 10_000;
/** Longer than LOCK_STALE_MS, so a stale lock is always broken before a waiter gives up. */
const LOCK_WAIT_MS = 15_000;

/**
 * The state file (`fake.state-file`). Each change is written at once, as JSON,
 * through a temporary file and a rename, so a reader never sees half a file.
 * The file is the truth: before reading or changing, the store re-reads it if
 * someone else replaced it since (another FakeCloud on the same file, e.g. a
 * restarted daemon or a separate builder process), and a change is made under
 * a lock file, so two processes do not overwrite each other's changes.
 */
export class FileStore implements Store {
  private state: FakeCloudState;
  /** inode, mtime and size of the file as last read or written here. */
  private seen = '';
  private tempCounter = 0;

  constructor(readonly path: string, private readonly now: () => number) {
    mkdirSync(dirname(path), { recursive: true });
    this.state = this.load() ?? emptyState();
  }

  read(): FakeCloudState {
    this.refresh();
    return this.state;
  }

  update<T>(change: (state: FakeCloudState) => T): T {
    const release = this.lock();
    try {
      this.refresh();
      const result = change(this.state);
      prune(this.state, this.now());
      this.write();
      return result;
    } finally {
      release();
    }
  }

  private refresh(): void {
    if (this.signature() === this.seen) return;
    this.state = this.load() ?? this.state;
  }

  private signature(): string {
    try {
      const s = statSync(this.path);
      return `${s.ino}:${s.mtimeMs}:${s.size}`;
    } catch {
      return '';
    }
  }

  private load(): FakeCloudState | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new FakeStateFileError(this.path, `cannot be read: ${(error as Error).message}`);
    }
    this.seen = this.signature();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new FakeStateFileError(this.path, `is not valid JSON (${(error as Error).message}); fix or remove it`);
    }
    const problem = stateProblem(parsed);
    if (problem) throw new FakeStateFileError(this.path, `${problem}; fix or remove it`);
    return parsed as FakeCloudState;
  }

  private write(): void {
    const temp = `${this.path}.${process.pid}.${this.tempCounter++}.tmp`;
    try {
      writeFileSync(temp, `${JSON.stringify(this.state, null, 1)}\n`);
      renameSync(temp, this.path);
    } catch (error) {
      throw new FakeStateFileError(this.path, `cannot be written: ${(error as Error).message}`);
    }
    this.seen = this.signature();
  }

  /** An exclusive lock file; held only for one synchronous read-change-write. */
  private lock(): () => void {
    const lockPath = `${this.path}.lock`;
    const started = Date.now();
    for (;;) {
      try {
        const fd = openSync(lockPath, 'wx');
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return () => {
          try {
            unlinkSync(lockPath);
          } catch {
            // Broken as stale by another process: nothing left to release.
          }
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new FakeStateFileError(this.path, `cannot create lock ${lockPath}: ${(error as Error).message}`);
        }
      }
      breakStaleLock(lockPath);
      if (Date.now() - started > LOCK_WAIT_MS) {
        throw new FakeStateFileError(this.path, `lock ${lockPath} held for more than ${LOCK_WAIT_MS / 1000} s`);
      }
      // The holder needs microseconds; a short synchronous pause keeps update() synchronous.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
  }
}

/**
 * A lock left behind by a process that died mid-write (a daemon killed with
 * SIGKILL): broken at once when the pid it names is no longer running, and in
 * any case once it is older than LOCK_STALE_MS.
 */
function breakStaleLock(lockPath: string): void {
  try {
    const holder = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
    const dead = Number.isInteger(holder) && holder > 0 && !isRunning(holder);
    if (dead || Date.now() - statSync(lockPath).mtimeMs > LOCK_STALE_MS) unlinkSync(lockPath);
  } catch {
    // Released or broken by someone else meanwhile.
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
