#!/usr/bin/env node
// Counts the OpenStack API calls nodepoold makes per node: its actor host (in this
// process, driver: openstack) against the OpenStack simulator over real HTTP
// on loopback. It fills min-ready, then deletes every node and waits for the
// replacements, and prints the calls of that second round by route, per node
// launched and deleted, and the shared calls (the server list, tokens,
// flavors, quota) apart.
//
// Needs root: each simulated server's SSH check reaches port 22 on its
// loopback address (127.42.0.x), where a minimal SSH stand-in answers.
//
// Build first, then:   npm run build && node scripts/bench-openstack-calls.mjs [--nodes N] [--json]
// See docs/benchmarks.md for what each figure means.
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { stringify as stringifyYaml } from 'yaml';
import { loadConfigOrThrow } from '../dist/src/config/index.js';
import { openDatabase } from '../dist/src/db/index.js';
import { Logging } from '../dist/src/log/index.js';
import { startOpenStackSimulator } from '../dist/src/tools/openstack-simulator/index.js';
import { ActorHost } from '../dist/src/actors/host.js';
import { Nodepoold } from '../dist/src/nodepoold/nodepoold.js';

const USAGE = 'usage: node scripts/bench-openstack-calls.mjs [--nodes N] [--timeout SECONDS] [--json]';
const options = { nodes: 10, timeoutS: 120, json: false };
{
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--nodes' || arg === '--timeout') {
      const value = Number(args[++i]);
      if (!Number.isInteger(value) || value < 1) fail(`${arg} needs a whole number of at least 1\n${USAGE}`);
      if (arg === '--nodes') options.nodes = value;
      else options.timeoutS = value;
    } else if (arg === '--json') options.json = true;
    else if (arg === '-h' || arg === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown argument ${arg}\n${USAGE}`);
  }
}
function fail(message) {
  console.error(`bench-openstack-calls: ${message}`);
  process.exit(2);
}
if (process.getuid?.() !== 0) fail('needs root: the SSH stand-in answers on port 22 of 127.42.0.x');

const ADDRESSES = Array.from({ length: 2 * options.nodes + 10 }, (_, i) => `127.42.0.${10 + i}`);
if (ADDRESSES.length > 240) fail('--nodes is at most 115');

/**
 * Just enough SSH for a node to pass its SSH check and take its node-set
 * files: any key is accepted, `exec` succeeds, SFTP writes are acknowledged
 * (and dropped).
 */
function sshStandIn() {
  const hostKey = ssh2.utils.generateKeyPairSync('ed25519').private;
  const server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    client.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('error', () => {});
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acceptExec) => {
          const channel = acceptExec();
          channel.exit(0);
          channel.end();
        });
        session.on('sftp', (acceptSftp) => {
          const sftp = acceptSftp();
          const { OK } = ssh2.utils.sftp.STATUS_CODE;
          let handles = 0;
          sftp.on('STAT', (id) => sftp.attrs(id, { mode: 0o40755, uid: 0, gid: 0, size: 0, atime: 0, mtime: 0 }));
          sftp.on('LSTAT', (id) => sftp.attrs(id, { mode: 0o40755, uid: 0, gid: 0, size: 0, atime: 0, mtime: 0 }));
          sftp.on('OPEN', (id) => sftp.handle(id, Buffer.from(String(handles++))));
          for (const op of ['WRITE', 'CLOSE', 'FSETSTAT', 'SETSTAT', 'MKDIR']) sftp.on(op, (id) => sftp.status(id, OK));
        });
      });
    });
  });
  const listeners = ADDRESSES.map((host) => {
    const front = createServer((socket) => server.injectSocket(socket));
    return new Promise((resolve, reject) => {
      front.once('error', reject);
      front.listen(22, host, () => resolve(front));
    });
  });
  return Promise.all(listeners);
}

const dir = mkdtempSync(join(tmpdir(), 'nodepool-bench-os-'));
const fronts = await sshStandIn();
const sim = await startOpenStackSimulator({
  timings: { activeMs: 300, deleteMs: 300 },
  networks: [{ name: 'public', cidr: '127.42.0.0/24', shared: true, allocationPool: { start: ADDRESSES[0], end: ADDRESSES.at(-1) } }],
  quota: { instances: 1000, cores: 4000, ram: 8_192_000 },
});
const cloudsFile = join(dir, 'clouds.yaml');
writeFileSync(cloudsFile, sim.cloudsYaml('bench'));
process.env.OS_CLIENT_CONFIG_FILE = cloudsFile;
const keyFile = join(dir, 'id_ed25519');
writeFileSync(keyFile, ssh2.utils.generateKeyPairSync('ed25519').private);
chmodSync(keyFile, 0o600);

const dburi = `sqlite://${join(dir, 'nodepool.db')}`;
const configFile = join(dir, 'nodepool.yaml');
const yaml = (minReady) =>
  stringifyYaml({
    dburi,
    labels: [{ name: 'small', image: 'debian', 'min-ready': minReady, providers: [{ name: 'bench' }] }],
    providers: [{
      name: 'bench',
      cloud: 'bench',
      'max-servers': options.nodes,
      rate: 0.001,
      'boot-timeout': 30,
      'launch-timeout': 60,
      networks: [{ name: 'public' }],
      images: [{ name: 'debian', 'min-ram': 1024, 'private-key': keyFile }],
    }],
    targets: [{ name: 'local' }],
    diskimages: [{ name: 'debian' }],
  });
writeFileSync(configFile, yaml(options.nodes));
const db = await openDatabase(dburi);
// The image the nodes boot from, as the builder would have recorded its upload.
const image = sim.seedImage({ name: 'template-debian', properties: { nodepool_build_id: '1', nodepool_upload_id: '1' } });
const build = await db.builds.create({ image: 'debian', state: 'ready', formats: ['qcow2'] });
await db.uploads.create({ buildId: build.id, provider: 'bench', image: 'debian', externalId: image.id, externalName: image.name, state: 'ready' });

const logging = new Logging({ level: process.env.BENCH_LOG_LEVEL ?? 'error', destination: 'stderr', loggers: {} });
const pool = new ActorHost({ configFile, config: loadConfigOrThrow(configFile), db, logging, changePollMs: 200 });
pool.add(new Nodepoold(pool));

async function until(what, probe) {
  const deadline = Date.now() + options.timeoutS * 1000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const ready = async () => (await db.nodes.list({ state: 'ready' })).length;

let counters;
let launched = 0;
try {
  await pool.start();
  await until(`${options.nodes} ready nodes`, async () => (await ready()) === options.nodes);
  const first = await db.nodes.list();
  sim.resetCounters();
  // Every node deleted as `nodepool delete` does; min-ready launches the replacements.
  for (const node of first) {
    await db.transaction(async (tx) => {
      await tx.nodes.setState(node.id, 'delete');
      await tx.changes.append('node', node.id, 'delete');
    });
  }
  await until('the replacements ready and the old nodes gone', async () => {
    const nodes = await db.nodes.list();
    return nodes.length === options.nodes && nodes.every((n) => n.state === 'ready' && !first.some((f) => f.id === n.id));
  });
  await until('the old servers gone', async () => sim.servers().length === options.nodes);
  counters = sim.counters();
  launched = options.nodes;
} finally {
  await pool.stop();
  await db.close();
  await sim.close();
  for (const front of fronts) front.close();
  rmSync(dir, { recursive: true, force: true });
}

const perNode = ['POST /compute/v2.1/servers', 'DELETE /compute/v2.1/servers/{id}'];
const perNodeCalls = perNode.reduce((sum, route) => sum + (counters[route] ?? 0), 0);
const shared = Object.entries(counters).filter(([route]) => !perNode.includes(route));
const summary = {
  nodes: launched,
  callsPerNode: perNodeCalls / launched,
  perNodeRoutes: Object.fromEntries(perNode.map((r) => [r, counters[r] ?? 0])),
  shared: Object.fromEntries(shared),
};
if (options.json) console.log(JSON.stringify(summary, null, 2));
else {
  console.log(`OpenStack API calls while ${launched} nodes were deleted and ${launched} launched (simulator, real HTTP)`);
  console.log(`  per node launched and deleted: ${summary.callsPerNode.toFixed(2)} (target: at most 3)`);
  for (const route of perNode) console.log(`    ${route.padEnd(44)} ${String(counters[route] ?? 0).padStart(5)}`);
  console.log('  shared by all nodes:');
  for (const [route, n] of shared) console.log(`    ${route.padEnd(44)} ${String(n).padStart(5)}`);
}
process.exit(0);
