/**
 * Writing the node-set files over SFTP: the directory is made if missing, and
 * each file gets its mode before any content is written, so the private key
 * is never readable by others, not even for a moment.
 */
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { targetOf, withConnection, type SshConnectionOptions } from './connection.js';
import { SftpWriteFailed, type SshTarget } from './errors.js';

export interface WriteFilesOptions {
  /** Default `/etc/nodepool`. */
  directory?: string;
  /** File name to mode; default 0600 for `id_rsa`, 0644 for the rest. */
  modeOf?: (name: string) => number;
}

export interface WrittenFile {
  path: string;
  mode: number;
  bytes: number;
}

export const NODE_SET_DIRECTORY = '/etc/nodepool';

export function nodeSetFileMode(name: string): number {
  return name === 'id_rsa' ? 0o600 : 0o644;
}

const NO_SUCH_FILE = 2;

/** Write `files` (name to content) into the directory on the node, over one SSH connection. */
export async function writeNodeSetFiles(
  connection: SshConnectionOptions,
  files: Readonly<Record<string, string | Buffer>>,
  options: WriteFilesOptions = {},
): Promise<WrittenFile[]> {
  const directory = options.directory ?? NODE_SET_DIRECTORY;
  const modeOf = options.modeOf ?? nodeSetFileMode;
  const target = targetOf(connection);
  for (const name of Object.keys(files)) {
    if (name === '' || name.includes('/') || name === '.' || name === '..')
      throw new RangeError(`node-set file name ${JSON.stringify(name)} must be a plain file name`);
  }
  return withConnection(connection, async ({ client }) => {
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
      client.sftp((error, wrapper) => (error ? reject(new SftpWriteFailed(target, directory, `no SFTP subsystem: ${error.message}`, { cause: error })) : resolve(wrapper))),
    );
    try {
      await makeDirectories(sftp, target, directory);
      const written: WrittenFile[] = [];
      for (const [name, content] of Object.entries(files)) {
        const path = posix.join(directory, name);
        const data = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
        const mode = modeOf(name);
        await writeFile(sftp, target, path, data, mode);
        written.push({ path, mode, bytes: data.length });
      }
      return written;
    } finally {
      sftp.end();
    }
  });
}

function call<T>(target: SshTarget, path: string, what: string, run: (done: (error: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    run((error, value) => {
      if (error) reject(new SftpWriteFailed(target, path, `${what}: ${error.message}`, { cause: error }));
      else resolve(value as T);
    }),
  );
}

async function isDirectory(sftp: SFTPWrapper, target: SshTarget, path: string): Promise<boolean | undefined> {
  try {
    const stats = await call<{ isDirectory(): boolean }>(target, path, 'stat', (done) => sftp.stat(path, done));
    return stats.isDirectory();
  } catch (error) {
    const code = ((error as SftpWriteFailed).cause as { code?: unknown } | undefined)?.code;
    if (code === NO_SUCH_FILE) return undefined;
    throw error;
  }
}

/** Like `mkdir -p`: make each missing component, tolerating a concurrent maker. */
async function makeDirectories(sftp: SFTPWrapper, target: SshTarget, directory: string): Promise<void> {
  const parts = posix.normalize(directory).split('/').filter(Boolean);
  let path = directory.startsWith('/') ? '/' : '.';
  for (const part of parts) {
    path = posix.join(path, part);
    const existing = await isDirectory(sftp, target, path);
    if (existing === true) continue;
    if (existing === false) throw new SftpWriteFailed(target, path, 'exists and is not a directory');
    try {
      await call<void>(target, path, 'mkdir', (done) => sftp.mkdir(path, { mode: 0o755 }, (error) => done(error)));
    } catch (error) {
      if ((await isDirectory(sftp, target, path)) !== true) throw error;
    }
  }
}

async function writeFile(sftp: SFTPWrapper, target: SshTarget, path: string, data: Buffer, mode: number): Promise<void> {
  const handle = await call<Buffer>(target, path, 'open', (done) => sftp.open(path, 'w', { mode }, done));
  let complete = false;
  try {
    // An existing file keeps its old mode on open: set ours before writing content.
    await call<void>(target, path, 'chmod', (done) => sftp.fchmod(handle, mode, (error) => done(error)));
    let offset = 0;
    while (offset < data.length) {
      const length = Math.min(32 * 1024, data.length - offset);
      await call<void>(target, path, 'write', (done) => sftp.write(handle, data, offset, length, offset, (error) => done(error)));
      offset += length;
    }
    complete = true;
  } finally {
    // A failed close may mean lost data, so it counts, unless an earlier error is already on its way.
    const closing = call<void>(target, path, 'close', (done) => sftp.close(handle, (error) => done(error)));
    if (complete) await closing;
    else await closing.catch(() => {});
  }
}
