// reload-abuse: a running nodepoold's file rewritten a hundred times in
// twenty seconds, valid and not, converging to the last valid one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify as stringifyYaml } from 'yaml';
import { seededRandom } from '../../dist/src/simulated-cloud/index.js';
import { hasStackTrace, nodepool, sleep, startDaemon, VALID } from './common.mjs';

/**
 * nodepoold on SQLite and a simulated cloud, its file rewritten `rewrites`
 * times over `seconds`, valid (min-ready 1 to 4) and invalid (broken YAML,
 * wrong types, binary garbage) in turn; the last file is valid with
 * min-ready 6. The daemon must stay up and reach 6 ready nodes.
 */
export async function reloadAbuse(short) {
  const dir = mkdtempSync(join(tmpdir(), 'nodepool-chaos-reload-'));
  const configFile = join(dir, 'nodepool.yaml');
  const random = seededRandom(7);
  const config = (minReady) => ({
    ...VALID,
    dburi: `sqlite://${join(dir, 'np.db')}`,
    labels: [{ ...VALID.labels[0], 'min-ready': minReady }],
    providers: [{ ...VALID.providers[0], 'max-servers': 10, rate: 0.01, fake: { 'state-file': join(dir, 'fake-a.json'), latency: { create: 0.05, active: 0.2, delete: 0.1 } } }],
  });
  const invalid = [
    () => `${stringifyYaml(config(2))}labels: [unclosed\n`,
    () => stringifyYaml({ ...config(2), labels: [{ ...VALID.labels[0], 'min-ready': 'lots' }] }),
    () => Buffer.from(Array.from({ length: 512 }, () => Math.floor(random() * 256))),
    () => '',
  ];
  const rewrites = short ? 20 : 100;
  const seconds = short ? 5 : 20;
  writeFileSync(configFile, stringifyYaml(config(1)));
  const daemon = startDaemon('nodepoold', ['-c', configFile, '--no-builder', '--no-webapp'], { cwd: dir });
  const failures = { 'daemon exited': 0, 'not converged': 0, 'stack trace': 0 };
  let validWritten = 0;
  let invalidWritten = 0;
  let convergedS;
  try {
    await sleep(1500);
    for (let i = 0; i < rewrites; i += 1) {
      if (i % 2 === 0) {
        writeFileSync(configFile, stringifyYaml(config(1 + Math.floor(random() * 4))));
        validWritten += 1;
      } else {
        writeFileSync(configFile, invalid[Math.floor(random() * invalid.length)]());
        invalidWritten += 1;
      }
      await sleep((seconds * 1000) / rewrites);
    }
    writeFileSync(configFile, stringifyYaml(config(6)));
    validWritten += 1;
    const lastWrite = performance.now();
    for (;;) {
      if (!daemon.running()) break;
      const listed = await nodepool(['-c', configFile, 'list', '--json']);
      const ready = listed.code === 0 ? JSON.parse(listed.stdout).filter((n) => n.state === 'ready').length : 0;
      if (ready >= 6) {
        convergedS = +((performance.now() - lastWrite) / 1000).toFixed(2);
        break;
      }
      if (performance.now() - lastWrite > 30_000) break;
      await sleep(250);
    }
    if (!daemon.running()) failures['daemon exited'] += 1;
    else if (convergedS === undefined) failures['not converged'] += 1;
    if (hasStackTrace(daemon.output())) failures['stack trace'] += 1;
  } finally {
    await daemon.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  const refusedLogged = (daemon.output().match(/invalid|refused|cannot/gi) ?? []).length;
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  if (failed > 0) console.error(`reload-abuse: ${JSON.stringify(failures)}\n${daemon.output().slice(-2000)}`);
  return { scenario: 'reload-abuse', rewrites: validWritten + invalidWritten, valid: validWritten, invalid: invalidWritten, refusalLines: refusedLogged, convergedS, failures, ok: failed === 0 };
}
