/**
 * The secure file (INI): `[database] dburi=` and one `[jenkins "<target>"]`
 * section per Jenkins target. Read with the `ini` package, after two
 * adjustments that keep Python ConfigParser's meaning, which 0.4 used.
 */
import ini from 'ini';
import { ConfigError } from './problems.js';
import { readTextFile } from './read-file.js';
import type { SecureConfig } from './types.js';

const JENKINS_SECTION = /^jenkins\s+"(.*)"$/;

export function loadSecureFile(file: string): SecureConfig {
  const read = readTextFile(file, 'secure file');
  if ('error' in read) throw new ConfigError([{ file, path: '', message: read.error, severity: 'error' }]);
  const parsed = ini.parse(prepare(read.text)) as Record<string, unknown>;
  const secure: SecureConfig = { jenkins: {} };
  for (const [section, values] of Object.entries(parsed)) {
    if (typeof values !== 'object' || values === null) continue; // a key outside any section
    const v = values as Record<string, unknown>;
    if (section === 'database') {
      const dburi = text(v.dburi);
      if (dburi !== undefined) secure.dburi = dburi;
      continue;
    }
    const name = JENKINS_SECTION.exec(section)?.[1];
    if (name !== undefined) {
      secure.jenkins[name] = defined({ url: text(v.url), user: text(v.user), apikey: text(v.apikey), credentials: text(v.credentials) });
    }
  }
  return secure;
}

/**
 * `ini` splits section names at dots (nested sections) and cuts values at
 * any `#` or `;`. ConfigParser did neither: a target may be called
 * `jenkins.example.org` and a password may hold `#`. Escape dots in section
 * names, and `#`/`;` in values unless they follow whitespace (an inline
 * comment, as in `dburi=... # sqlite for tests`).
 */
function prepare(source: string): string {
  return source
    .split(/\r?\n/)
    .map((line) => {
      const section = /^(\s*\[)(.*)(\]\s*)$/.exec(line);
      if (section) return `${section[1]}${(section[2] ?? '').replace(/\./g, '\\.')}${section[3]}`;
      if (/^\s*[;#]/.test(line)) return line;
      const eq = line.indexOf('=');
      if (eq < 0) return line;
      const value = line.slice(eq + 1).replace(/(?<!\s)([#;])/g, '\\$1');
      return line.slice(0, eq + 1) + value;
    })
    .join('\n');
}

/** A string value with surrounding quotes removed (`dburi='mysql://...'` as in 0.4's docs). */
function text(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  const quoted = t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0];
  return quoted ? t.slice(1, -1) : t;
}

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
