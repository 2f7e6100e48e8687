import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { debianMirrorEnv, debianMirrors, parseDeb822 } from '../../src/dib/apt-mirrors.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temp `<root>/sources.list.d` holding `files`; `<root>/sources.list` too when given. */
function sourcesDir(files: Record<string, string>, sourcesList?: string): { dir: string; list: string } {
  const root = mkdtempSync(join(tmpdir(), 'nodepool-apt-'));
  dirs.push(root);
  const dir = join(root, 'sources.list.d');
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const list = join(root, 'sources.list');
  if (sourcesList !== undefined) writeFileSync(list, sourcesList);
  return { dir, list };
}

// As on a Debian 12 cloud/container image (snapshot comments inside the stanzas).
const DEBIAN_SOURCES = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

const NODESOURCE = `Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
Architectures: amd64
Signed-By: /usr/share/keyrings/nodesource.gpg
`;

describe('debianMirrors', () => {
  it('finds the release and its security archive in deb822 stanzas, ignoring other files and stanzas', () => {
    const { dir } = sourcesDir({
      'debian.sources': DEBIAN_SOURCES,
      'nodesource.sources': NODESOURCE,
      // Not *.sources: apt ignores it, so do we.
      'other.sources.disabled-by-farm': 'Types: deb\nURIs: http://wrong.example/debian\nSuites: bookworm\n',
    });
    expect(debianMirrors('bookworm', dir)).toEqual({
      mirror: 'http://deb.debian.org/debian',
      securityMirror: 'http://deb.debian.org/debian-security',
    });
  });

  it('matches a suite exactly among several, takes the first URI of several, and skips deb-src and disabled stanzas', () => {
    const { dir } = sourcesDir({
      '10-src.sources': 'Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main\n',
      '20-off.sources': 'Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm bookworm-security\n',
      '30-backports.sources': 'Types: deb\nURIs: http://backports.example/debian\nSuites: bookworm-backports\n',
      '40-main.sources': [
        '# Local mirror first, upstream second',
        'types: deb deb-src',
        'URIs: http://mirror.local/debian http://deb.debian.org/debian',
        'Suites: bookworm-updates bookworm bookworm-proposed-updates',
        'Components: main contrib',
        'Signed-By:',
        ' -----BEGIN PGP PUBLIC KEY BLOCK-----',
        ' .',
        ' mQINBGPL0BUBEADmW5NdOOHwXIJnfXtYSYvWEd0iGdz5vZ',
        ' -----END PGP PUBLIC KEY BLOCK-----',
        '',
        '',
        '# security',
        'Types: deb',
        'URIs: http://mirror.local/debian-security',
        'Suites: bookworm-security',
        'Components: main',
        '',
      ].join('\n'),
      '50-later.sources': DEBIAN_SOURCES,
    });
    expect(debianMirrors('bookworm', dir)).toEqual({
      mirror: 'http://mirror.local/debian',
      securityMirror: 'http://mirror.local/debian-security',
    });
  });

  it('fails naming the directory and the release when no stanza has <release>-security', () => {
    const { dir } = sourcesDir({
      'debian.sources': 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n',
    });
    expect(() => debianMirrors('bookworm', dir)).toThrow(
      `no Debian mirror for release bookworm: no 'deb' source with suite 'bookworm-security' in ${dir}/*.sources, ${dir}/*.list`,
    );
  });

  it('fails for a release that no source has, naming both suites', () => {
    const { dir } = sourcesDir({ 'debian.sources': DEBIAN_SOURCES });
    expect(() => debianMirrors('trixie', dir)).toThrow(/for release trixie: no 'deb' source with suite 'trixie' and 'trixie-security' in .*sources\.list\.d/);
  });

  it('fails when the directory does not exist', () => {
    expect(() => debianMirrors('bookworm', '/nonexistent/sources.list.d')).toThrow('/nonexistent/sources.list.d/*.sources');
  });

  it('reads the one-line format of sources.list and *.list when no .sources file has the suite', () => {
    const { dir, list } = sourcesDir(
      {
        'nodesource.sources': NODESOURCE,
        'security.list': 'deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://security.example/debian-security bookworm-security main\n',
      },
      [
        '# deb cdrom:[Debian GNU/Linux 12.5.0 _Bookworm_ - Official amd64 DVD Binary-1]/ bookworm contrib main',
        'deb-src http://src.example/debian bookworm main',
        'deb http://ftp.example/debian/ bookworm main non-free-firmware # the main archive',
        'deb http://ftp.example/debian/ bookworm-updates main',
      ].join('\n'),
    );
    expect(debianMirrors('bookworm', dir, list)).toEqual({
      mirror: 'http://ftp.example/debian/',
      securityMirror: 'http://security.example/debian-security',
    });
    // Without the legacy file only the *.list in the directory is read.
    expect(() => debianMirrors('bookworm', dir)).toThrow(`suite 'bookworm' in ${dir}/*.sources, ${dir}/*.list`);
  });

  it('prefers a .sources stanza over the legacy file', () => {
    const { dir, list } = sourcesDir({ 'debian.sources': DEBIAN_SOURCES }, 'deb http://legacy.example/debian bookworm main\n');
    expect(debianMirrors('bookworm', dir, list).mirror).toBe('http://deb.debian.org/debian');
  });
});

describe('debianMirrorEnv', () => {
  it('gives the env-vars of the Debian elements, with the -security subpath', () => {
    const { dir } = sourcesDir({ 'debian.sources': DEBIAN_SOURCES });
    expect(debianMirrorEnv('bookworm', dir)).toEqual({
      DIB_DISTRIBUTION_MIRROR: 'http://deb.debian.org/debian',
      DIB_DEBIAN_SECURITY_MIRROR: 'http://deb.debian.org/debian-security',
      DIB_DEBIAN_SECURITY_SUBPATH: '-security',
    });
  });

  it('leaves the subpath empty for bullseye, where the elements append -security themselves', () => {
    const { dir } = sourcesDir({
      'debian.sources': DEBIAN_SOURCES.replaceAll('bookworm', 'bullseye'),
    });
    expect(debianMirrorEnv('bullseye', dir).DIB_DEBIAN_SECURITY_SUBPATH).toBe('');
  });
});

describe('parseDeb822', () => {
  it('splits stanzas on blank lines, keeps comments out and multi-valued fields apart', () => {
    expect(parseDeb822(`${DEBIAN_SOURCES}\n\n\n${NODESOURCE}`)).toEqual([
      { types: ['deb'], uris: ['http://deb.debian.org/debian'], suites: ['bookworm', 'bookworm-updates'] },
      { types: ['deb'], uris: ['http://deb.debian.org/debian-security'], suites: ['bookworm-security'] },
      { types: ['deb'], uris: ['https://deb.nodesource.com/node_20.x'], suites: ['nodistro'] },
    ]);
  });
});
