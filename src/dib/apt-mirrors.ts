/**
 * The Debian mirrors this machine's apt uses, so that disk-image-create's
 * Debian elements fetch from the same place instead of a hard-coded one.
 *
 * Read from deb822 `*.sources` files (stanzas of `Types:`, `URIs:`,
 * `Suites:`, `Components:` ...); the one-line format (`deb [opts] URI suite
 * components`) of `sources.list` and `*.list` is read too, after them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_SOURCES_DIR = '/etc/apt/sources.list.d';
export const DEFAULT_SOURCES_LIST = '/etc/apt/sources.list';

export interface DebianMirrors {
  /** URI of the archive that has `<release>` itself. */
  mirror: string;
  /** URI of the archive that has `<release>-security`. */
  securityMirror: string;
}

/** The diskimage env-vars that point the debian/debian-minimal elements at the mirrors. */
export interface DebianMirrorEnv {
  DIB_DISTRIBUTION_MIRROR: string;
  DIB_DEBIAN_SECURITY_MIRROR: string;
  DIB_DEBIAN_SECURITY_SUBPATH: string;
}

/** One apt source: a deb822 stanza or a one-line entry. */
interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
}

/**
 * The mirrors for `release` (e.g. bookworm): the first URI of the first `deb`
 * source whose suites hold exactly `release`, and of the first holding
 * `<release>-security`. Sources are taken from `dir/*.sources` in name order,
 * then from `sourcesList` (the legacy file; by default /etc/apt/sources.list
 * when `dir` is the default, none otherwise), then from `dir/*.list`.
 * Throws naming the directory and the release when either is missing.
 */
export function debianMirrors(
  release: string,
  dir = DEFAULT_SOURCES_DIR,
  sourcesList: string | undefined = dir === DEFAULT_SOURCES_DIR ? DEFAULT_SOURCES_LIST : undefined,
): DebianMirrors {
  const files = listDir(dir);
  const sources: AptSource[] = [];
  for (const name of files.filter((f) => f.endsWith('.sources'))) sources.push(...parseDeb822(readText(join(dir, name)) ?? ''));
  const oneLineFiles = [
    ...(sourcesList === undefined ? [] : [sourcesList]),
    ...files.filter((f) => f.endsWith('.list')).map((f) => join(dir, f)),
  ];
  for (const file of oneLineFiles) sources.push(...parseOneLine(readText(file) ?? ''));

  const debs = sources.filter((s) => s.types.includes('deb') && s.uris.length > 0);
  const mirror = debs.find((s) => s.suites.includes(release))?.uris[0];
  const securityMirror = debs.find((s) => s.suites.includes(`${release}-security`))?.uris[0];
  if (mirror === undefined || securityMirror === undefined) {
    const wanted = [mirror === undefined ? `'${release}'` : undefined, securityMirror === undefined ? `'${release}-security'` : undefined]
      .filter((w) => w !== undefined)
      .join(' and ');
    const where = [`${dir}/*.sources`, ...(sourcesList === undefined ? [] : [sourcesList]), `${dir}/*.list`].join(', ');
    throw new Error(`no Debian mirror for release ${release}: no 'deb' source with suite ${wanted} in ${where}`);
  }
  return { mirror, securityMirror };
}

/**
 * {@link debianMirrors} as the env-vars disk-image-create's Debian elements
 * read. The security archive lives at `<release>-security` since bullseye;
 * for bookworm and later the elements need the `-security` subpath spelled
 * out (their default is the old `/updates`), for bullseye they add it
 * themselves and the subpath must be empty.
 */
export function debianMirrorEnv(
  release: string,
  dir = DEFAULT_SOURCES_DIR,
  sourcesList: string | undefined = dir === DEFAULT_SOURCES_DIR ? DEFAULT_SOURCES_LIST : undefined,
): DebianMirrorEnv {
  const { mirror, securityMirror } = debianMirrors(release, dir, sourcesList);
  return {
    DIB_DISTRIBUTION_MIRROR: mirror,
    DIB_DEBIAN_SECURITY_MIRROR: securityMirror,
    DIB_DEBIAN_SECURITY_SUBPATH: release === 'bullseye' ? '' : '-security',
  };
}

/**
 * deb822 stanzas: separated by blank lines; `#` lines are comments (also
 * inside a stanza); a line starting with white space continues the field
 * before it; field names are case-insensitive. `Enabled: no` drops a stanza.
 */
export function parseDeb822(text: string): AptSource[] {
  const stanzas: Map<string, string>[] = [];
  let current: Map<string, string> | undefined;
  let lastField: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      current = undefined;
      lastField = undefined;
      continue;
    }
    if (line.startsWith('#')) continue;
    if (/^\s/.test(line)) {
      if (current && lastField !== undefined) current.set(lastField, `${current.get(lastField) ?? ''}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (!current) {
      current = new Map();
      stanzas.push(current);
    }
    lastField = line.slice(0, colon).trim().toLowerCase();
    current.set(lastField, line.slice(colon + 1).trim());
  }
  return stanzas
    .filter((s) => !/^(no|false|0)$/i.test(s.get('enabled') ?? 'yes'))
    .map((s) => ({ types: words(s.get('types')), uris: words(s.get('uris')), suites: words(s.get('suites')) }));
}

/** `deb [option=value ...] URI suite [component ...]`, one per line; `#` starts a comment. */
export function parseOneLine(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*/, '').replace(/\[[^\]]*\]/, ' ').trim();
    const [type, uri, suite] = words(line);
    if (type === undefined || uri === undefined || suite === undefined) continue;
    sources.push({ types: [type], uris: [uri], suites: [suite] });
  }
  return sources;
}

function words(value: string | undefined): string[] {
  return (value ?? '').split(/\s+/).filter((w) => w !== '');
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
