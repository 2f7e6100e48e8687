import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { Expected } from './helpers.js';
import { BASE, cleanTempDirs, configText, expectProblem, lineOf, load, provider, tempDir, writeFile } from './helpers.js';

afterEach(cleanTempDirs);

const fakeProvider = (...lines: string[]): string[] =>
  provider('prov', 'driver: fake', 'max-servers: 5', ...lines, 'images:', '  - name: img', '    min-ram: 1024');

interface Case {
  story: string;
  text: string;
  want: (text: string) => Expected;
}

const cases: Case[] = [
  // ---- the file as a whole ----
  {
    story: 'an empty file says so',
    text: '',
    want: () => ({ path: '(top)', line: undefined, message: 'the file is empty' }),
  },
  {
    story: 'a file of only comments counts as empty',
    text: '# nodepool\n# nothing here yet\n',
    want: () => ({ path: '(top)', line: undefined, message: 'the file is empty' }),
  },
  {
    story: 'a top level list is not a configuration',
    text: '- labels\n- providers\n',
    want: () => ({ path: '(top)', line: 1, message: 'the top level must be a mapping (labels:, providers:, targets: ...), found a list' }),
  },
  {
    story: 'a top level string is not a configuration',
    text: '# a comment first\njust some words\n',
    want: () => ({ path: '(top)', line: 2, message: 'the top level must be a mapping (labels:, providers:, targets: ...), found a string ("just some words")' }),
  },
  {
    story: 'an unclosed flow sequence is a syntax error on its line',
    text: configText({ top: ['zmq-publishers: [tcp://a:1', 'cron: {}'] }),
    want: () => ({ path: '', line: 2, message: 'YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]' }),
  },
  {
    // The parser finds out at the end of the file, and says so there.
    story: 'an unclosed quote is a syntax error',
    text: configText({ top: ['images-dir: "/opt/dib'] }),
    want: (t) => ({ path: '', line: t.split('\n').length, message: 'YAML syntax: Missing closing "quote' }),
  },
  {
    story: 'a second YAML document is refused',
    text: `${configText()}---\nlabels: []\n`,
    want: (t) => ({ path: '', line: lineOf(t, '---'), message: 'YAML syntax: the file holds more than one document (---)' }),
  },
  {
    story: 'tabs used for indentation',
    text: configText({ top: ['cron:', '\tcheck: "* * * * *"'] }),
    want: () => ({ path: '', line: 2, message: 'YAML syntax: Tabs are not allowed as indentation' }),
  },
  // ---- missing keys ----
  {
    story: 'labels are required',
    text: configText({ top: ['images-dir: /opt'], labels: null }),
    want: () => ({ path: 'labels', line: 1, message: "missing required key 'labels'" }),
  },
  {
    story: 'targets are required',
    text: configText({ targets: null }),
    want: () => ({ path: 'targets', line: 1, message: "missing required key 'targets'" }),
  },
  {
    story: 'a label without a name points at the label',
    text: configText({ labels: [...BASE.labels, '- image: img', '  min-ready: 1'] }),
    want: (t) => ({ path: 'labels[1].name', line: lineOf(t, '- image: img'), message: "missing required key 'name'" }),
  },
  {
    story: 'a provider without max-servers',
    text: configText({ providers: provider('prov', 'driver: fake', 'images:', '  - name: img', '    min-ram: 1') }),
    want: (t) => ({ path: 'providers[0].max-servers', line: lineOf(t, '- name: prov', 2), message: "missing required key 'max-servers'" }),
  },
  {
    story: 'a provider image without min-ram',
    text: configText({ providers: provider('prov', 'driver: fake', 'max-servers: 5', 'images:', '  - name: img') }),
    want: (t) => ({ path: 'providers[0].images[0].min-ram', line: lineOf(t, '- name: img', 2), message: "missing required key 'min-ram'" }),
  },
  // ---- wrong types ----
  {
    story: 'max-servers given as a word',
    text: configText({ providers: provider('prov', 'driver: fake', "max-servers: 'lots'", 'images: []') }),
    want: (t) => ({ path: 'providers[0].max-servers', line: lineOf(t, 'max-servers'), message: 'expected an integer, found a string ("lots")' }),
  },
  {
    story: 'labels written as a mapping',
    text: configText({ labels: ['lab: {image: img}'] }),
    want: (t) => ({ path: 'labels', line: lineOf(t, 'labels:'), message: 'expected a list, found a mapping' }),
  },
  {
    story: 'an empty providers key',
    text: configText({ providers: [] }),
    want: (t) => ({ path: 'providers', line: lineOf(t, 'providers:', 2), message: 'expected a list, found an empty value' }),
  },
  {
    story: 'a fractional min-ready',
    text: configText({ labels: [...BASE.labels, '  min-ready: 2.5'] }),
    want: (t) => ({ path: 'labels[0].min-ready', line: lineOf(t, 'min-ready'), message: 'expected an integer, found a number (2.5)' }),
  },
  {
    story: 'pause that is neither true nor false',
    text: configText({ diskimages: ['- name: img', '  pause: maybe'] }),
    want: (t) => ({ path: 'diskimages[0].pause', line: lineOf(t, 'pause'), message: 'expected a boolean (true or false), found a string ("maybe")' }),
  },
  {
    story: 'elements as one string',
    text: configText({ diskimages: ['- name: img', '  elements: ubuntu vm'] }),
    want: (t) => ({ path: 'diskimages[0].elements', line: lineOf(t, 'elements'), message: 'expected a list, found a string ("ubuntu vm")' }),
  },
  {
    story: 'release given as a list',
    text: configText({ diskimages: ['- name: img', '  release: [trusty]'] }),
    want: (t) => ({ path: 'diskimages[0].release', line: lineOf(t, 'release'), message: 'expected a string or a number, found a list' }),
  },
  {
    story: 'a wrongly typed password is not echoed',
    text: configText({ providers: provider('prov', 'max-servers: 5', 'auth-url: https://k', 'password: 123456', 'images: []') }),
    want: (t) => ({ path: 'providers[0].password', line: lineOf(t, 'password'), message: 'expected a string, found an integer' }),
  },
  {
    story: 'a webapp port that is a word',
    text: configText({ top: ['webapp:', '  port: http'] }),
    want: () => ({ path: 'webapp.port', line: 2, message: 'expected an integer, found a string ("http")' }),
  },
  // ---- invalid values ----
  {
    story: 'a negative boot-timeout',
    text: configText({ providers: fakeProvider('boot-timeout: -5') }),
    want: (t) => ({ path: 'providers[0].boot-timeout', line: lineOf(t, 'boot-timeout'), message: 'must be a positive number of seconds' }),
  },
  {
    story: 'a zero launch-timeout',
    text: configText({ providers: fakeProvider('launch-timeout: 0') }),
    want: (t) => ({ path: 'providers[0].launch-timeout', line: lineOf(t, 'launch-timeout'), message: 'must be a positive number of seconds' }),
  },
  {
    story: 'a provider rate of zero',
    text: configText({ providers: fakeProvider('rate: 0') }),
    want: (t) => ({ path: 'providers[0].rate', line: lineOf(t, 'rate'), message: 'must be greater than 0' }),
  },
  {
    story: 'a negative target rate',
    text: configText({ targets: ['- name: t1', '  rate: -1.5'] }),
    want: (t) => ({ path: 'targets[0].rate', line: lineOf(t, 'rate'), message: 'must be greater than 0' }),
  },
  {
    story: 'a negative min-ram',
    text: configText({ providers: provider('prov', 'driver: fake', 'max-servers: 5', 'images:', '  - name: img', '    min-ram: -512') }),
    want: (t) => ({ path: 'providers[0].images[0].min-ram', line: lineOf(t, 'min-ram'), message: 'must not be negative (MB)' }),
  },
  {
    story: 'max-servers below -1',
    text: configText({ providers: provider('prov', 'driver: fake', 'max-servers: -2', 'images: []') }),
    want: (t) => ({ path: 'providers[0].max-servers', line: lineOf(t, 'max-servers'), message: 'must be -1 (provider retired) or more' }),
  },
  {
    story: 'an image type diskimage-builder does not know',
    text: configText({ providers: fakeProvider('image-type: iso') }),
    want: (t) => ({ path: 'providers[0].image-type', line: lineOf(t, 'image-type'), message: 'must be one of raw, qcow2, vhd, vhdx, qed, vdi, vmdk, tar, tgz, squashfs, docker, aci; found a string ("iso")' }),
  },
  {
    story: 'an unknown driver',
    text: configText({ providers: provider('prov', 'driver: kvm', 'max-servers: 5', 'images: []') }),
    want: (t) => ({ path: 'providers[0].driver', line: lineOf(t, 'driver'), message: 'must be one of openstack, fake; found a string ("kvm")' }),
  },
  {
    story: 'a cron minute out of range',
    text: configText({ top: ['cron:', "  check: '61 * * * *'"] }),
    want: () => ({ path: 'cron.check', line: 2, message: "invalid cron expression '61 * * * *': Constraint error" }),
  },
  {
    story: 'a cron line with seconds',
    text: configText({ top: ['cron:', "  cleanup: '0 27 */6 * * *'"] }),
    want: () => ({ path: 'cron.cleanup', line: 2, message: 'expected 5 fields (minute hour day month weekday), found 6' }),
  },
  {
    story: 'a label min-ready below -1',
    text: configText({ labels: [...BASE.labels, '  min-ready: -2'] }),
    want: (t) => ({ path: 'labels[0].min-ready', line: lineOf(t, 'min-ready'), message: 'must be -1 (label disabled) or more' }),
  },
  {
    story: 'an empty label name',
    text: configText({ labels: ["- name: ''", '  image: img', '  providers:', '    - name: prov'] }),
    want: (t) => ({ path: 'labels[0].name', line: lineOf(t, "name: ''"), message: 'must not be empty' }),
  },
  {
    story: 'negative subnodes',
    text: configText({ labels: [...BASE.labels, '  subnodes: -1'] }),
    want: (t) => ({ path: 'labels[0].subnodes', line: lineOf(t, 'subnodes'), message: 'must not be negative' }),
  },
  {
    story: 'meta with six entries',
    text: configText({ providers: provider('prov', 'driver: fake', 'max-servers: 5', 'images:', '  - name: img', '    min-ram: 1', '    meta: {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6}') }),
    want: (t) => ({ path: 'providers[0].images[0].meta', line: lineOf(t, 'meta'), message: 'has 6 entries; Nova allows at most 5' }),
  },
  {
    story: 'a meta key over 255 characters',
    text: configText({ providers: provider('prov', 'driver: fake', 'max-servers: 5', 'images:', '  - name: img', '    min-ram: 1', '    meta:', `      ${'k'.repeat(256)}: v`) }),
    want: (t) => ({ path: `providers[0].images[0].meta.${'k'.repeat(256)}`, line: lineOf(t, 'kkkk'), message: 'key is 256 characters long; at most 255 allowed' }),
  },
  {
    story: 'a meta value over 255 characters',
    text: configText({ providers: provider('prov', 'driver: fake', 'max-servers: 5', 'images:', '  - name: img', '    min-ram: 1', '    meta:', `      long: ${'v'.repeat(300)}`) }),
    want: (t) => ({ path: 'providers[0].images[0].meta.long', line: lineOf(t, 'long:'), message: 'value is 300 characters long; at most 255 allowed' }),
  },
  {
    story: 'a gearman port out of range',
    text: configText({ top: ['gearman-servers:', '  - host: zuul', '    port: 70000'] }),
    want: () => ({ path: 'gearman-servers[0].port', line: 3, message: 'must be a port number (1-65535)' }),
  },
  {
    story: 'a zmq publisher that is not a tcp endpoint',
    text: configText({ top: ['zmq-publishers:', '  - jenkins.example.org'] }),
    want: () => ({ path: 'zmq-publishers[0]', line: 2, message: 'must look like tcp://host:port' }),
  },
  {
    story: 'a network with both a name and a net-id',
    text: configText({ providers: fakeProvider('networks:', '  - name: private', '    net-id: abc') }),
    want: (t) => ({ path: 'providers[0].networks[0]', line: lineOf(t, '- name: private'), message: 'a network needs exactly one of name, net-id or net-label' }),
  },
  {
    story: 'a fake ssh address without a port',
    text: configText({ providers: fakeProvider('fake:', '  ssh: localhost') }),
    want: (t) => ({ path: 'providers[0].fake.ssh', line: lineOf(t, 'ssh:'), message: 'must look like host:port' }),
  },
  {
    story: 'a fake failure rate above 1',
    text: configText({ providers: fakeProvider('fake:', '  failure-rate:', '    create: 1.5') }),
    want: (t) => ({ path: 'providers[0].fake.failure-rate.create', line: lineOf(t, 'create: 1.5'), message: 'must be between 0 and 1' }),
  },
  // ---- cross-checks ----
  {
    story: 'a label that names a provider that does not exist',
    text: configText({ labels: [...BASE.labels, '    - name: nowhere'] }),
    want: (t) => ({ path: 'labels[0].providers[1].name', line: lineOf(t, '- name: nowhere'), message: "label 'lab' requests non-existent provider 'nowhere'" }),
  },
  {
    story: "a label whose image is not one of its provider's images",
    text: configText({ diskimages: ['- name: img', '- name: other'], labels: ['- name: lab', '  image: other', '  providers:', '    - name: prov'] }),
    want: (t) => ({ path: 'labels[0].providers[0].name', line: lineOf(t, '    - name: prov'), message: "provider 'prov' has no image 'other' (the image of label 'lab')" }),
  },
  {
    story: 'a provider image with no diskimage of that name',
    text: configText({ diskimages: ['- name: something-else'] }),
    want: (t) => ({ path: 'providers[0].images[0].name', line: lineOf(t, '- name: img'), message: "no diskimage named 'img'" }),
  },
  {
    story: 'a provider image whose diskimage key names nothing',
    text: configText({ providers: provider('prov', 'driver: fake', 'max-servers: 5', 'images:', '  - name: img', '    diskimage: imgx', '    min-ram: 1') }),
    want: (t) => ({ path: 'providers[0].images[0].diskimage', line: lineOf(t, 'diskimage: imgx'), message: "no diskimage named 'imgx'" }),
  },
  {
    story: 'two labels with one name',
    text: configText({ labels: [...BASE.labels, ...BASE.labels] }),
    want: (t) => ({ path: 'labels[1].name', line: lineOf(t, '- name: lab', 2), message: `duplicate label name 'lab' (first defined at line ${lineOf(t, '- name: lab')})` }),
  },
  {
    story: 'two providers with one name',
    text: configText({ providers: [...BASE.providers, ...BASE.providers] }),
    want: (t) => ({ path: 'providers[1].name', line: lineOf(t, '- name: prov', 3), message: `duplicate provider name 'prov' (first defined at line ${lineOf(t, '- name: prov', 2)})` }),
  },
  {
    story: 'two targets with one name',
    text: configText({ targets: ['- name: t1', '- name: t1'] }),
    want: (t) => ({ path: 'targets[1].name', line: lineOf(t, '- name: t1', 2), message: `duplicate target name 't1' (first defined at line ${lineOf(t, '- name: t1')})` }),
  },
  {
    story: 'two diskimages with one name',
    text: configText({ diskimages: ['- name: img', '- name: img'] }),
    want: () => ({ path: 'diskimages[1].name', line: 3, message: `duplicate diskimage name 'img' (first defined at line 2)` }),
  },
  {
    story: 'one image listed twice in a provider',
    text: configText({ providers: [...BASE.providers, '    - name: img', '      min-ram: 2048'] }),
    want: (t) => ({ path: 'providers[0].images[1].name', line: lineOf(t, '    - name: img', 2), message: `duplicate image of provider 'prov' name 'img' (first defined at line ${lineOf(t, '    - name: img')})` }),
  },
  {
    story: 'an enabled label without providers',
    text: configText({ labels: ['- name: lab', '  image: img'] }),
    want: (t) => ({ path: 'labels[0]', line: lineOf(t, '- name: lab'), message: "label 'lab' has no providers; list at least one or set min-ready: -1 to disable it" }),
  },
];

describe('a bad nodepool.yaml is reported with path, line and a clear message', () => {
  it.each(cases)('$story', ({ text, want }) => {
    const { result, file } = load(text);
    const problem = expectProblem(result, want(text));
    expect(problem.file).toBe(file);
  });

  it('has at least thirty distinct bad inputs', () => {
    expect(new Set(cases.map((c) => c.text)).size).toBeGreaterThanOrEqual(30);
  });
});

describe('a file that cannot be read', () => {
  it('a missing file names the file and says it is not found', () => {
    const file = join(tempDir(), 'nope.yaml');
    const result = loadConfig(file);
    expect(result.config).toBeUndefined();
    expect(result.problems).toEqual([{ file, path: '', message: 'configuration file not found', severity: 'error' }]);
  });

  it('a directory is not a configuration file', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'nodepool.yaml'));
    const result = loadConfig(join(dir, 'nodepool.yaml'));
    expect(result.problems.map((p) => p.message)).toEqual(['configuration file is a directory, not a file']);
  });

  it('a path through a regular file is reported, not thrown', () => {
    const file = writeFile(tempDir(), 'plain', 'x');
    const result = loadConfig(join(file, 'nodepool.yaml'));
    expect(result.problems[0]?.message).toBe('configuration file not found (a part of its path is not a directory)');
  });

  it('a device or a pipe is not read: -c /dev/zero would grow without end, a FIFO would block', () => {
    expect(loadConfig('/dev/zero').problems.map((p) => p.message)).toEqual([
      'configuration file is not a regular file (a device, a pipe or a socket); give the path of a file',
    ]);
    const fifo = join(tempDir(), 'nodepool.yaml');
    execFileSync('mkfifo', [fifo]);
    expect(loadConfig(fifo).problems[0]?.message).toMatch(/is not a regular file/);
  });

  it('a file over 5 MB is refused before it is read', () => {
    const file = writeFile(tempDir(), 'nodepool.yaml', `# ${'x'.repeat(6 * 1024 * 1024)}\n`);
    expect(loadConfig(file).problems.map((p) => p.message)).toEqual(['configuration file is 6.0 MB; a configuration file may be at most 5 MB']);
  });
});

describe('files made to break the reader', () => {
  it('a hundred thousand problems: the first 100 and a count, no stack overflow', () => {
    const labels = Array.from({ length: 50_000 }, (_, i) => `  - {name: l${i}, image: img, min-ready: -5}`);
    const { result } = load(['labels:', ...labels, 'providers: []', 'targets: []'].join('\n'));
    expect(result.config).toBeUndefined();
    expect(result.problems).toHaveLength(101);
    expect(result.problems[100]?.message).toMatch(/^and \d+ more problem\(s\) \(\d+ of them errors\), not shown$/);
    expect(result.problems[100]?.severity).toBe('error');
  });

  it('nesting thousands deep is one clear error', () => {
    const { result } = load(`labels: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`);
    expect(result.problems.map((p) => p.message)).toEqual(['YAML: the file nests too deeply to be a configuration']);
  });

  it('an alias bomb is stopped', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`)];
    const { result } = load(`${bomb.join('\n')}\n`);
    expect(result.config).toBeUndefined();
    expect(result.problems[0]?.message).toMatch(/^YAML: /);
  });

  it('an alias to an anchor that is not defined names its line', () => {
    const { result } = load('labels:\n  - name: a\n    image: *nope\n');
    expect(result.problems).toMatchObject([{ line: 3, message: expect.stringContaining('Unresolved alias') as unknown }]);
  });
});

describe('a file that cannot be read, as a user', () => {
  it.skipIf(process.getuid?.() === 0)('an unreadable file says permission denied', () => {
    const file = writeFile(tempDir(), 'nodepool.yaml', configText());
    chmodSync(file, 0o000);
    const result = loadConfig(file);
    expect(result.problems[0]?.message).toBe('configuration file cannot be read: permission denied');
  });
});
