// config-fuzz: `config-validate` on generated invalid nodepool.yaml files
// (broken YAML, alias bombs, binary garbage, deep nesting, a 20 MB file,
// wrong types and values): each must be refused with a message, in time.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { seededRandom } from '../../dist/src/simulated-cloud/index.js';
import { hasStackTrace, nodepool, VALID } from './common.mjs';

/** The kinds of bad file, each a function of a seeded random source. */
const BAD_FILES = {
  'wrong type': (r) => {
    const c = structuredClone(VALID);
    const choices = [() => (c.labels[0]['min-ready'] = 'many'), () => (c.providers[0]['max-servers'] = [1]), () => (c.targets = 'local'), () => (c.labels = { a: 1 })];
    choices[Math.floor(r() * choices.length)]();
    return stringifyYaml(c);
  },
  'bad value': (r) => {
    const c = structuredClone(VALID);
    const choices = [() => (c.labels[0]['min-ready'] = -7), () => (c.providers[0].rate = 0), () => (c.labels[0].name = ''), () => (c.providers[0].images[0]['min-ram'] = -1)];
    choices[Math.floor(r() * choices.length)]();
    return stringifyYaml(c);
  },
  'missing reference': () => {
    const c = structuredClone(VALID);
    c.labels[0].providers = [{ name: 'nowhere' }];
    return stringifyYaml(c);
  },
  // Each breaks the YAML wherever it stands: after a valid file, at the top level.
  'broken YAML': (r) => {
    const breakers = ['labels: [unclosed', '"unclosed: x', '\t- tabbed', '- a list after a mapping', 'key: value: another', '{a: 1'];
    return `${stringifyYaml(VALID)}${breakers[Math.floor(r() * breakers.length)]}\n`;
  },
  'binary garbage': (r) => Buffer.from(Array.from({ length: 2048 + Math.floor(r() * 4096) }, () => Math.floor(r() * 256))),
  'alias bomb': () => ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 12 }, (_, i) => {
    const prev = String.fromCharCode(97 + i);
    return `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${prev}`).join(', ')}]`;
  })].join('\n'),
  'deep nesting': (r) => `labels: ${'['.repeat(5_000 + Math.floor(r() * 20_000))}\n`,
  'undefined alias': () => 'labels:\n  - name: a\n    image: *nope\n',
  'many problems': (r) => stringifyYaml({ ...VALID, labels: Array.from({ length: 2_000 + Math.floor(r() * 8_000) }, (_, i) => ({ name: `l${i}`, image: 'x', 'min-ready': -5 })) }),
};

export async function configFuzz(short) {
  const dir = mkdtempSync(join(tmpdir(), 'nodepool-chaos-config-'));
  const random = seededRandom(20261126);
  const kinds = Object.keys(BAD_FILES);
  const files = short ? 30 : 200;
  const failures = { 'exit 0': 0, hang: 0, 'stack trace': 0, 'no message': 0 };
  const byKind = {};
  let slowest = 0;
  try {
    const cases = Array.from({ length: files }, (_, i) => kinds[i % kinds.length]);
    if (!short) cases.push('20 MB file');
    for (const [i, kind] of cases.entries()) {
      const file = join(dir, `bad-${i}.yaml`);
      writeFileSync(file, kind === '20 MB file' ? `# ${'x'.repeat(20 * 1024 * 1024)}\n` : BAD_FILES[kind](random));
      const run = await nodepool(['-c', file, 'config-validate']);
      slowest = Math.max(slowest, run.ms);
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      const out = `${run.stdout}${run.stderr}`;
      const problem = run.hung ? 'hang' : run.code === 0 ? 'exit 0' : hasStackTrace(out) ? 'stack trace' : out.trim() === '' ? 'no message' : undefined;
      if (problem) {
        failures[problem] += 1;
        console.error(`config-fuzz: ${kind} (${file}): ${problem}\n${out.slice(0, 600)}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  return { scenario: 'config-fuzz', files: Object.values(byKind).reduce((a, b) => a + b, 0), byKind, failures, slowestS: +(slowest / 1000).toFixed(2), ok: failed === 0 };
}
