/**
 * A real 3-node MariaDB Galera cluster on loopback, for tests and for a
 * person trying nodepool on Galera (scripts/galera-cluster.mjs,
 * docs/galera.md). Each node is its own `mariadbd` process with its own
 * my.cnf, datadir, socket and pid file under one temporary folder; every
 * process started here is ended by its pid.
 *
 * Only node 1's datadir is initialised (mariadb-install-db); node 1
 * bootstraps the cluster (--wsrep-new-cluster) and nodes 2 and 3 join it by
 * state transfer (SST). A node that was killed and is started again rejoins
 * by IST (from a peer's gcache) or SST.
 *
 * SST is rsync, which needs one adjustment when mariadbd runs as root:
 * wsrep_sst_rsync starts `rsync --daemon` on the joiner, and an rsync daemon
 * started by root drops to `nobody` for transfers, which then cannot write
 * the datadir. So the SST method is `rsync_root`: a script
 * `wsrep_sst_rsync_root`, in a folder first on mariadbd's PATH, which execs
 * the stock /usr/bin/wsrep_sst_rsync; the same folder holds an `rsync`
 * wrapper (wsrep_sst_rsync finds rsync on PATH) that adds
 * `-M uid=root -M gid=root` to `rsync --daemon`.
 */
import { type ChildProcess, spawn, execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';

export const GALERA_LIBRARY = '/usr/lib/libgalera_smm.so';
export const MARIADBD = '/usr/sbin/mariadbd';
export const MARIADB_INSTALL_DB = '/usr/bin/mariadb-install-db';
export const STOCK_SST_RSYNC = '/usr/bin/wsrep_sst_rsync';
export const NODE_COUNT = 3;
const EVS_OPTIONS = 'evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;evs.install_timeout=PT6S;evs.inactive_check_period=PT0.5S';

export interface GaleraClusterOptions {
  /** SQL port of node 1; nodes 2 and 3 take the next two. Default 3311. */
  basePort?: number;
  /** Group communication port of node 1 (gcomm); IST is 10 above, SST 20 above. Default 45671. */
  galeraBasePort?: number;
  /** Where the datadirs, sockets, logs and my.cnf files go; default a new temporary folder, removed by stop(). */
  dir?: string;
  /** Bound on each node's start (until it is Synced with the others). Default 120 s. */
  nodeStartTimeoutMs?: number;
  /**
   * Leave the nodes running when this process exits (the script's `start`).
   * Otherwise they are SIGKILLed at exit should stop() not have run.
   */
  detached?: boolean;
  /** Progress lines (a node started, in how long). */
  log?: (line: string) => void;
}

export interface GaleraCluster {
  readonly dir: string;
  readonly basePort: number;
  /** mysql://root@127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/ (no database: add one with withDatabaseName-like string handling). */
  readonly uri: string;
  /** The server URI of node i (1..3) alone. */
  nodeUri(i: number): string;
  /** The pid of node i's mariadbd, undefined when it is not running. */
  pid(i: number): number | undefined;
  /** SIGKILL node i by pid and wait until it has exited. */
  killNode(i: number): Promise<void>;
  /** Start node i again (after killNode); resolves once it is Synced and the cluster has 3 nodes. */
  restartNode(i: number): Promise<void>;
  /** wsrep_cluster_size as node i sees it. */
  clusterSize(i: number): Promise<number>;
  /** The last lines of node i's error log, for a failing test's report. */
  tail(i: number, lines?: number): string;
  /** SIGTERM every node by pid, SIGKILL after 20 s, then remove the folder (when it was made here). */
  stop(): Promise<void>;
}

/** Undefined when a Galera cluster can be started here; otherwise why not. */
export function galeraUnavailableReason(): string | undefined {
  for (const path of [GALERA_LIBRARY, MARIADBD, MARIADB_INSTALL_DB, STOCK_SST_RSYNC]) {
    if (!existsSync(path)) return `${path} is missing (Debian packages galera-4, mariadb-server, rsync)`;
  }
  if (!['/usr/bin/rsync', '/bin/rsync'].some((p) => existsSync(p))) return 'rsync is missing (Debian package rsync)';
  return undefined;
}

/** Whether a Galera cluster can be started here (the provider library, mariadbd and rsync exist). */
export function galeraAvailable(): boolean {
  return galeraUnavailableReason() === undefined;
}

interface NodePorts {
  sql: number;
  gcomm: number;
  ist: number;
  sst: number;
}

interface State {
  dir: string;
  ownDir: boolean;
  basePort: number;
  pids: Record<string, number>;
}

/** Processes started here and not yet ended: SIGKILLed at exit unless detached. */
const attached = new Set<number>();
let exitHook = false;
function killAtExit(pid: number): void {
  attached.add(pid);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const p of attached) signal(p, 'SIGKILL');
  });
}

function signal(pid: number, name: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  return signal(pid, 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

export async function startGaleraCluster(options: GaleraClusterOptions = {}): Promise<GaleraCluster> {
  const reason = galeraUnavailableReason();
  if (reason !== undefined) throw new Error(`cannot start a Galera cluster: ${reason}`);
  const basePort = options.basePort ?? 3311;
  const galeraBase = options.galeraBasePort ?? 45671;
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'nodepool-galera-'));
  mkdirSync(dir, { recursive: true });
  const log = options.log ?? (() => {});
  const startTimeoutMs = options.nodeStartTimeoutMs ?? 120_000;
  const ports = (i: number): NodePorts => ({ sql: basePort + i - 1, gcomm: galeraBase + i - 1, ist: galeraBase + 10 + i - 1, sst: galeraBase + 20 + i - 1 });
  const members = Array.from({ length: NODE_COUNT }, (_, k) => `127.0.0.1:${ports(k + 1).gcomm}`).join(',');
  const state: State = { dir, ownDir, basePort, pids: {} };
  const children = new Map<number, ChildProcess>();
  const binDir = join(dir, 'bin');

  const nodeDir = (i: number) => join(dir, `node${i}`);
  const errorLog = (i: number) => join(nodeDir(i), 'error.log');
  const nodeUri = (i: number) => `mysql://root@127.0.0.1:${ports(i).sql}/`;
  const saveState = () => writeFileSync(join(dir, 'cluster.json'), `${JSON.stringify(state, null, 2)}\n`);

  const tail = (i: number, lines = 30) => {
    try {
      return readFileSync(errorLog(i), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no error log)';
    }
  };

  const writeConfig = (i: number) => {
    const p = ports(i);
    const d = nodeDir(i);
    mkdirSync(join(d, 'data'), { recursive: true });
    mkdirSync(join(d, 'tmp'), { recursive: true });
    writeFileSync(join(d, 'my.cnf'), [
      '[mysqld]',
      'user=root',
      `datadir=${join(d, 'data')}`,
      `socket=${join(d, 'mysqld.sock')}`,
      `pid-file=${join(d, 'mysqld.pid')}`,
      `log-error=${errorLog(i)}`,
      `tmpdir=${join(d, 'tmp')}`,
      'bind-address=127.0.0.1',
      `port=${p.sql}`,
      'skip-name-resolve',
      // Memory: about 150 MB per node instead of the defaults' 500 MB.
      'innodb_buffer_pool_size=32M',
      'innodb_log_file_size=32M',
      'performance_schema=OFF',
      'max_connections=200',
      'binlog_format=ROW',
      'default_storage_engine=InnoDB',
      'innodb_autoinc_lock_mode=2',
      'innodb_flush_log_at_trx_commit=2',
      'character-set-server=utf8mb4',
      'wsrep_on=ON',
      `wsrep_provider=${GALERA_LIBRARY}`,
      'wsrep_cluster_name=nodepool',
      `wsrep_cluster_address=gcomm://${members}`,
      `wsrep_node_name=node${i}`,
      `wsrep_node_address=127.0.0.1:${p.gcomm}`,
      // A dead node is suspected after 3 s and evicted after 6 s (defaults 5 s
      // and 15 s): a killed node's new incarnation joins sooner, and the other
      // nodes stop waiting for it sooner. On loopback nothing is slow.
      `wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:${p.gcomm};ist.recv_addr=127.0.0.1:${p.ist};gcache.size=64M;${EVS_OPTIONS}"`,
      `wsrep_sst_receive_address=127.0.0.1:${p.sst}`,
      'wsrep_sst_method=rsync_root',
      '',
    ].join('\n'));
  };

  const writeSstMethod = () => {
    mkdirSync(binDir, { recursive: true });
    const realRsync = existsSync('/usr/bin/rsync') ? '/usr/bin/rsync' : '/bin/rsync';
    writeFileSync(join(binDir, 'wsrep_sst_rsync_root'), `#!/bin/sh\n# rsync SST, with an rsync daemon that stays root (see src/tools/galera-cluster.ts).\n# mariadbd puts its own folders in front of PATH: put the rsync wrapper first again.\nPATH=${binDir}:$PATH\nexport PATH\nexec ${STOCK_SST_RSYNC} "$@"\n`);
    writeFileSync(join(binDir, 'rsync'), [
      '#!/bin/sh',
      '# An rsync daemon started by root would transfer as nobody: keep it root.',
      'for arg in "$@"; do',
      `  if [ "$arg" = "--daemon" ]; then exec ${realRsync} "$@" -M uid=root -M gid=root; fi`,
      'done',
      `exec ${realRsync} "$@"`,
      '',
    ].join('\n'));
    chmodSync(join(binDir, 'wsrep_sst_rsync_root'), 0o755);
    chmodSync(join(binDir, 'rsync'), 0o755);
  };

  const launch = (i: number, bootstrap: boolean): number => {
    const out = openSync(join(nodeDir(i), 'stdout.log'), 'a');
    const args = [`--defaults-file=${join(nodeDir(i), 'my.cnf')}`, ...(bootstrap ? ['--wsrep-new-cluster'] : [])];
    const child = spawn(MARIADBD, args, {
      stdio: ['ignore', out, out],
      detached: true,
      env: { ...process.env, PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}` },
    });
    closeSync(out);
    if (child.pid === undefined) throw new Error(`node ${i}: mariadbd did not start`);
    children.set(i, child);
    child.on('error', () => {});
    if (options.detached) child.unref();
    else killAtExit(child.pid);
    state.pids[String(i)] = child.pid;
    saveState();
    return child.pid;
  };

  const status = async (i: number): Promise<Record<string, string>> => {
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: ports(i).sql, user: 'root', connectTimeout: 2_000 });
    try {
      const [rows] = await conn.query("SHOW STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_cluster_size', 'wsrep_local_state_comment', 'wsrep_cluster_status')");
      return Object.fromEntries((rows as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name, r.Value]));
    } finally {
      await conn.end().catch(() => {});
    }
  };

  /** Until node i is Synced, ready, in the primary component, and sees `size` nodes; bounded. */
  const waitReady = async (i: number, size: number, pid: number): Promise<void> => {
    const deadline = Date.now() + startTimeoutMs;
    let last = 'no answer yet';
    for (;;) {
      if (!alive(pid)) throw new Error(`node ${i} (pid ${pid}) exited while starting:\n${tail(i)}`);
      try {
        const s = await status(i);
        last = JSON.stringify(s);
        if (s.wsrep_ready === 'ON' && s.wsrep_cluster_status === 'Primary' && s.wsrep_local_state_comment === 'Synced' && Number(s.wsrep_cluster_size) >= size) return;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() >= deadline) throw new Error(`node ${i} not ready within ${startTimeoutMs} ms (last: ${last}):\n${tail(i)}`);
      await sleep(200);
    }
  };

  const startNode = async (i: number, bootstrap: boolean, size: number): Promise<void> => {
    const began = Date.now();
    const pid = launch(i, bootstrap);
    await waitReady(i, size, pid);
    log(`galera node ${i} (pid ${pid}, port ${ports(i).sql}) ready in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  };

  const stopNode = async (i: number, graceMs: number): Promise<void> => {
    const pid = state.pids[String(i)];
    if (pid === undefined) return;
    if (signal(pid, 'SIGTERM') && !(await waitUntilGone(pid, graceMs))) {
      signal(pid, 'SIGKILL');
      await waitUntilGone(pid, 5_000);
    }
    attached.delete(pid);
    delete state.pids[String(i)];
    saveState();
  };

  const stop = async (): Promise<void> => {
    // Nodes 2 and 3 first, then node 1: the last one out is safe to bootstrap.
    for (const i of [3, 2, 1]) await stopNode(i, 20_000);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (let i = 1; i <= NODE_COUNT; i++) {
      await checkPortFree(ports(i).sql);
      await checkPortFree(ports(i).gcomm);
      writeConfig(i);
    }
    writeSstMethod();
    await promisify(execFile)(MARIADB_INSTALL_DB, [
      '--no-defaults', `--datadir=${join(nodeDir(1), 'data')}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db',
    ], { timeout: 120_000 });
    await startNode(1, true, 1);
    // One at a time: a donor serves one joiner at once (the other would retry until it is free).
    await startNode(2, false, 2);
    await startNode(3, false, 3);
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }

  return {
    dir,
    basePort,
    uri: `mysql://root@${Array.from({ length: NODE_COUNT }, (_, k) => `127.0.0.1:${ports(k + 1).sql}`).join(',')}/`,
    nodeUri,
    pid: (i) => state.pids[String(i)],
    killNode: async (i) => {
      const pid = state.pids[String(i)];
      if (pid === undefined) return;
      signal(pid, 'SIGKILL');
      await waitUntilGone(pid, 10_000);
      attached.delete(pid);
      delete state.pids[String(i)];
      saveState();
    },
    restartNode: async (i) => {
      if (state.pids[String(i)] !== undefined) throw new Error(`node ${i} is running`);
      await startNode(i, false, NODE_COUNT);
    },
    clusterSize: async (i) => Number((await status(i)).wsrep_cluster_size),
    tail,
    stop,
  };
}

/** Fails when something already listens on `port` (another cluster, a leftover node). */
async function checkPortFree(port: number): Promise<void> {
  const taken = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
  if (taken) throw new Error(`port ${port} is already in use (a cluster already running? stop it first)`);
}

/** Stops the cluster a detached start left in `dir` (its cluster.json): SIGTERM by pid, SIGKILL after 20 s, then removes the folder. */
export async function stopGaleraClusterIn(dir: string): Promise<void> {
  const state = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as State;
  for (const i of ['3', '2', '1']) {
    const pid = state.pids[i];
    if (pid === undefined) continue;
    if (signal(pid, 'SIGTERM') && !(await waitUntilGone(pid, 20_000))) {
      signal(pid, 'SIGKILL');
      await waitUntilGone(pid, 5_000);
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
