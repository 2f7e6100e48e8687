/**
 * A real SSH server on 127.0.0.1 for tests (ssh2's Server), standing in for a
 * freshly booted node:
 * - accepts exactly one public key for one user name;
 * - `exec` runs the command for real with `/bin/sh -c`, after rewriting the
 *   node paths `/etc/nodepool` and `/opt/nodepool-scripts` to the same paths
 *   under a per-server temporary root (a plain text substitution of the
 *   command line: honest for the commands nodepool sends, but not a chroot, so
 *   a script that itself reads node paths must use `$NODE_ROOT/etc/...`);
 * - SFTP (open/write/close/fsetstat/setstat/stat/lstat/fstat/mkdir/realpath)
 *   writes under that root, every absolute path mapped into it;
 * - can boot "late": nothing listens for a while (connection refused), the
 *   first connections are accepted and dropped (sshd not ready), or the first
 *   logins are refused (key not installed yet);
 * - records what it received.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix, relative, isAbsolute } from 'node:path';
import ssh2 from 'ssh2';
import type { Connection, ParsedKey, SFTPWrapper, ServerChannel } from 'ssh2';

const { STATUS_CODE } = ssh2.utils.sftp;

/** Node paths that exec'd commands see mapped into the server's root. */
export const MAPPED_PREFIXES = ['/etc/nodepool', '/opt/nodepool-scripts'] as const;

export interface TestSshServerOptions {
  username: string;
  /** The one accepted key: OpenSSH public line (`ssh-ed25519 AAAA...`) or a private key. */
  publicKey: string | Buffer;
  /** Nothing listens on the port until this many ms after start (connection refused). */
  listenAfterMs?: number;
  /** Accept and at once close this many TCP connections first. */
  dropFirstConnections?: number;
  /** Refuse the right key on this many connections first. */
  rejectFirstLogins?: number;
  /**
   * More addresses the same server answers on, e.g. every loopback address a
   * cloud simulator hands its servers, on port 22 (needs root).
   */
  alsoListenOn?: { host: string; port: number }[];
}

export interface AuthRecord {
  username: string;
  method: string;
  accepted: boolean;
}

export interface SftpRecord {
  op: string;
  path: string;
  mode?: number;
  bytes?: number;
}

export interface TestSshServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Temporary directory standing for the node's `/`. */
  readonly root: string;
  /** OpenSSH style SHA256 fingerprint of the server's host key. */
  readonly hostKeyFingerprint: string;
  /** Resolves once the port accepts connections. */
  readonly listening: Promise<void>;
  readonly received: {
    tcpConnections: number;
    dropped: number;
    auth: AuthRecord[];
    /** Commands as the client sent them (before path rewriting). */
    commands: string[];
    sftp: SftpRecord[];
  };
  /** The local path for a node path, e.g. `/etc/nodepool/role`. */
  pathOf(nodePath: string): string;
  /** Put an executable script into `/opt/nodepool-scripts`. */
  installScript(name: string, content: string): void;
  /** Put a file on the node, e.g. `/etc/nodepool/role`, making its directory. */
  writeNodeFile(nodePath: string, content: string, mode?: number): void;
  close(): Promise<void>;
}

/** A loopback port with nothing listening on it (listen on 0, then close). */
export async function freeLoopbackPort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function parseOne(key: string | Buffer): ParsedKey {
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error) throw parsed;
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!first) throw new Error('no key');
  return first;
}

function errorStatus(error: unknown): number {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return STATUS_CODE.NO_SUCH_FILE;
  if (code === 'EACCES' || code === 'EPERM') return STATUS_CODE.PERMISSION_DENIED;
  return STATUS_CODE.FAILURE;
}

/** ssh2 1.17's ed25519 generator sometimes (1 in 256) makes a key its parser rejects: retry. */
function makeHostKey(): { private: string } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error)) return pair;
  }
}

export async function startSshServer(options: TestSshServerOptions): Promise<TestSshServer> {
  const root = await mkdtemp(join(tmpdir(), 'nodepool-sshd-'));
  const allowed = parseOne(options.publicKey);
  const allowedBlob = allowed.getPublicSSH();
  const hostKey = makeHostKey();
  const hostKeyFingerprint = `SHA256:${createHash('sha256').update(parseOne(hostKey.private).getPublicSSH()).digest('base64').replace(/=+$/, '')}`;
  const received: TestSshServer['received'] = { tcpConnections: 0, dropped: 0, auth: [], commands: [], sftp: [] };
  let dropsLeft = options.dropFirstConnections ?? 0;
  let loginRejectsLeft = options.rejectFirstLogins ?? 0;
  const sockets = new Set<Socket>();
  const children = new Set<ReturnType<typeof spawn>>();

  const pathOf = (nodePath: string): string => {
    const local = join(root, posix.normalize(posix.join('/', nodePath)));
    const inside = relative(root, local);
    if (inside.startsWith('..') || isAbsolute(inside)) throw new Error(`path ${nodePath} escapes the root`);
    return local;
  };
  const writeNodeFile = (nodePath: string, content: string, mode = 0o644): void => {
    const path = pathOf(nodePath);
    fs.mkdirSync(join(path, '..'), { recursive: true });
    fs.writeFileSync(path, content, { mode });
    fs.chmodSync(path, mode);
  };
  const rewrite = (command: string): string =>
    MAPPED_PREFIXES.reduce((text, prefix) => text.split(prefix).join(pathOf(prefix)), command);

  const sshServer = new ssh2.Server({ hostKeys: [hostKey.private] }, (client: Connection) => {
    let rejectedThisConnection = false;
    client.on('error', () => {});
    client.on('authentication', (ctx) => {
      const record = (accepted: boolean): void => {
        received.auth.push({ username: ctx.username, method: ctx.method, accepted });
      };
      if (ctx.method !== 'publickey' || ctx.username !== options.username || !ctx.key.data.equals(allowedBlob)) {
        record(false);
        ctx.reject(['publickey']);
        return;
      }
      if (rejectedThisConnection || loginRejectsLeft > 0) {
        if (!rejectedThisConnection) loginRejectsLeft--;
        rejectedThisConnection = true;
        record(false);
        ctx.reject(['publickey']);
        return;
      }
      if (ctx.signature === undefined) {
        ctx.accept(); // the client only asks whether this key would do
        return;
      }
      const valid = ctx.blob !== undefined && allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true;
      record(valid);
      if (valid) ctx.accept();
      else ctx.reject(['publickey']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, _reject, info) => {
          received.commands.push(info.command);
          runCommand(accept(), rewrite(info.command));
        });
        session.on('sftp', (accept) => serveSftp(accept()));
      });
    });
  });

  function runCommand(channel: ServerChannel, command: string): void {
    const child = spawn('/bin/sh', ['-c', command], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, LANG: 'C', NODE_ROOT: root },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(child);
    child.stdout.pipe(channel, { end: false });
    child.stderr.pipe(channel.stderr, { end: false });
    channel.on('data', (chunk: Buffer) => child.stdin.write(chunk));
    channel.on('end', () => child.stdin.end());
    channel.on('close', () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    child.stdin.on('error', () => {});
    child.on('close', (code, signal) => {
      children.delete(child);
      if (code !== null) channel.exit(code);
      else channel.exit(signal ?? 'KILL', false, '');
      channel.end();
    });
  }

  function serveSftp(sftp: SFTPWrapper): void {
    const open = new Map<string, { fd: number; path: string }>();
    let nextHandle = 0;
    const safely = (reqid: number, path: string, run: () => void): void => {
      try {
        run();
      } catch (error) {
        received.sftp.push({ op: 'error', path });
        sftp.status(reqid, errorStatus(error), (error as Error).message);
      }
    };
    const statAttrs = (stats: fs.Stats) => ({
      mode: stats.mode,
      uid: stats.uid,
      gid: stats.gid,
      size: stats.size,
      atime: Math.floor(stats.atimeMs / 1000),
      mtime: Math.floor(stats.mtimeMs / 1000),
    });
    const byHandle = (handle: Buffer) => open.get(handle.toString('hex'));

    sftp.on('REALPATH', (reqid, path) => {
      const normal = posix.normalize(posix.join('/', path));
      sftp.name(reqid, [{ filename: normal, longname: normal, attrs: {} as never }]);
    });
    sftp.on('STAT', (reqid, path) => safely(reqid, path, () => sftp.attrs(reqid, statAttrs(fs.statSync(pathOf(path))))));
    sftp.on('LSTAT', (reqid, path) => safely(reqid, path, () => sftp.attrs(reqid, statAttrs(fs.lstatSync(pathOf(path))))));
    sftp.on('MKDIR', (reqid, path, attrs) =>
      safely(reqid, path, () => {
        fs.mkdirSync(pathOf(path), { mode: attrs.mode ?? 0o755 });
        received.sftp.push({ op: 'mkdir', path, mode: attrs.mode });
        sftp.status(reqid, STATUS_CODE.OK);
      }),
    );
    sftp.on('SETSTAT', (reqid, path, attrs) =>
      safely(reqid, path, () => {
        if (attrs.mode !== undefined) fs.chmodSync(pathOf(path), attrs.mode & 0o7777);
        received.sftp.push({ op: 'setstat', path, mode: attrs.mode });
        sftp.status(reqid, STATUS_CODE.OK);
      }),
    );
    sftp.on('OPEN', (reqid, path, flags, attrs) =>
      safely(reqid, path, () => {
        const flagString = ssh2.utils.sftp.flagsToString(flags) ?? 'r';
        const fd = fs.openSync(pathOf(path), flagString, attrs.mode ?? 0o644);
        const handle = Buffer.alloc(4);
        handle.writeUInt32BE(nextHandle++);
        open.set(handle.toString('hex'), { fd, path });
        received.sftp.push({ op: 'open', path, mode: attrs.mode });
        sftp.handle(reqid, handle);
      }),
    );
    sftp.on('FSTAT', (reqid, handle) => {
      const file = byHandle(handle);
      if (!file) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
      safely(reqid, file.path, () => sftp.attrs(reqid, statAttrs(fs.fstatSync(file.fd))));
    });
    sftp.on('FSETSTAT', (reqid, handle, attrs) => {
      const file = byHandle(handle);
      if (!file) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
      safely(reqid, file.path, () => {
        if (attrs.mode !== undefined) fs.fchmodSync(file.fd, attrs.mode & 0o7777);
        received.sftp.push({ op: 'fsetstat', path: file.path, mode: attrs.mode });
        sftp.status(reqid, STATUS_CODE.OK);
      });
    });
    sftp.on('WRITE', (reqid, handle, offset, data) => {
      const file = byHandle(handle);
      if (!file) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
      safely(reqid, file.path, () => {
        fs.writeSync(file.fd, data, 0, data.length, offset);
        received.sftp.push({ op: 'write', path: file.path, bytes: data.length });
        sftp.status(reqid, STATUS_CODE.OK);
      });
    });
    sftp.on('READ', (reqid, handle, offset, length) => {
      const file = byHandle(handle);
      if (!file) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
      safely(reqid, file.path, () => {
        const buffer = Buffer.alloc(length);
        const read = fs.readSync(file.fd, buffer, 0, length, offset);
        if (read === 0) sftp.status(reqid, STATUS_CODE.EOF);
        else sftp.data(reqid, buffer.subarray(0, read));
      });
    });
    sftp.on('CLOSE', (reqid, handle) => {
      const file = byHandle(handle);
      if (!file) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
      open.delete(handle.toString('hex'));
      safely(reqid, file.path, () => {
        fs.closeSync(file.fd);
        received.sftp.push({ op: 'close', path: file.path });
        sftp.status(reqid, STATUS_CODE.OK);
      });
    });
    for (const op of ['OPENDIR', 'READDIR', 'REMOVE', 'RMDIR', 'RENAME', 'READLINK', 'SYMLINK'] as const) {
      sftp.on(op, (reqid: number) => sftp.status(reqid, STATUS_CODE.OP_UNSUPPORTED));
    }
    sftp.on('close', () => {
      for (const file of open.values()) fs.closeSync(file.fd);
      open.clear();
    });
  }

  // Our own listener in front of ssh2's, so connections can be dropped before SSH starts.
  const front: NetServer = createNetServer((socket) => {
    received.tcpConnections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (dropsLeft > 0) {
      dropsLeft--;
      received.dropped++;
      socket.destroy();
      return;
    }
    sshServer.injectSocket(socket);
  });

  const port = await freeLoopbackPort();
  let lateTimer: NodeJS.Timeout | undefined;
  const listening = new Promise<void>((resolve, reject) => {
    const listen = (): void => {
      front.once('error', reject);
      front.listen(port, '127.0.0.1', () => resolve());
    };
    if (options.listenAfterMs) lateTimer = setTimeout(listen, options.listenAfterMs);
    else listen();
  });
  listening.catch(() => {}); // awaited by whoever cares; a late bind failure must not be unhandled
  if (!options.listenAfterMs) await listening;
  const extraFronts: NetServer[] = [];
  for (const { host, port: extraPort } of options.alsoListenOn ?? []) {
    const extra = createNetServer((socket) => front.emit('connection', socket));
    await new Promise<void>((resolve, reject) => {
      extra.once('error', reject);
      extra.listen(extraPort, host, () => resolve());
    });
    extraFronts.push(extra);
  }

  return {
    host: '127.0.0.1',
    port,
    root,
    hostKeyFingerprint,
    listening,
    received,
    pathOf,
    installScript(name, content) {
      writeNodeFile(posix.join('/opt/nodepool-scripts', name), content, 0o755);
    },
    writeNodeFile,
    async close() {
      if (lateTimer) clearTimeout(lateTimer);
      for (const child of children) child.kill('SIGKILL');
      for (const socket of sockets) socket.destroy();
      if (front.listening) await new Promise<void>((resolve) => front.close(() => resolve()));
      for (const extra of extraFronts) await new Promise<void>((resolve) => extra.close(() => resolve()));
      await rm(root, { recursive: true, force: true });
    },
  };
}
