#!/usr/bin/env node
// A 3-node MariaDB Galera cluster on loopback, to try nodepoold and
// nodepool-builder on Galera by hand (docs/galera.md). The same code the
// tests use (src/tools/galera-cluster.ts); run `npm run build` first.
//
//   node scripts/galera-cluster.mjs start [--base-port 3311] [--galera-port 45671] [--dir DIR]
//   node scripts/galera-cluster.mjs stop [--dir DIR]
//
// `start` leaves the three mariadbd running and prints the URI naming all
// three; `stop` ends them by the pids recorded in DIR/cluster.json and
// removes DIR (default: $TMPDIR/nodepool-galera). --base-port is node 1's
// SQL port (nodes 2 and 3 the next two); --galera-port node 1's group
// communication port (IST listens 10 above it, SST 20 above).
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { galeraUnavailableReason, startGaleraCluster, stopGaleraClusterIn } from '../dist/src/tools/galera-cluster.js';

const usage = 'usage: galera-cluster.mjs start [--base-port 3311] [--galera-port 45671] [--dir DIR] | stop [--dir DIR]';
let parsed;
try {
  parsed = parseArgs({ allowPositionals: true, options: { 'base-port': { type: 'string' }, 'galera-port': { type: 'string' }, dir: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
} catch (err) {
  console.error(`${err.message}\n${usage}`);
  process.exit(2);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const dir = values.dir ?? join(tmpdir(), 'nodepool-galera');
const command = positionals[0];

if (command === 'start' && positionals.length === 1) {
  const reason = galeraUnavailableReason();
  if (reason) {
    console.error(`cannot start a Galera cluster: ${reason}`);
    process.exit(1);
  }
  if (existsSync(join(dir, 'cluster.json'))) {
    console.error(`${dir}/cluster.json exists: a cluster is running there (stop it first: galera-cluster.mjs stop --dir ${dir})`);
    process.exit(1);
  }
  const basePort = values['base-port'] === undefined ? 3311 : Number(values['base-port']);
  if (!Number.isInteger(basePort) || basePort < 1 || basePort > 65533) {
    console.error(`--base-port: expected a port number, got '${values['base-port']}'\n${usage}`);
    process.exit(2);
  }
  const galeraBasePort = values['galera-port'] === undefined ? 45671 : Number(values['galera-port']);
  if (!Number.isInteger(galeraBasePort) || galeraBasePort < 1 || galeraBasePort > 65513) {
    console.error(`--galera-port: expected a port number, got '${values['galera-port']}'\n${usage}`);
    process.exit(2);
  }
  const started = Date.now();
  try {
    const cluster = await startGaleraCluster({ basePort, galeraBasePort, dir, detached: true, log: (line) => console.log(line) });
    console.log(`cluster of 3 up in ${((Date.now() - started) / 1000).toFixed(1)} s, files in ${cluster.dir}`);
    console.log(`server URI: ${cluster.uri}`);
    console.log(`dburi for nodepool: ${cluster.uri}nodepool (create the database first: mariadb -h 127.0.0.1 -P ${basePort} -u root -e 'CREATE DATABASE nodepool')`);
    console.log(`stop it with: node scripts/galera-cluster.mjs stop --dir ${cluster.dir}`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
} else if (command === 'stop' && positionals.length === 1) {
  if (!existsSync(join(dir, 'cluster.json'))) {
    console.error(`no cluster recorded in ${dir} (no cluster.json)`);
    process.exit(1);
  }
  await stopGaleraClusterIn(dir);
  console.log(`stopped the cluster in ${dir} and removed the folder`);
} else {
  console.error(usage);
  process.exit(2);
}
