import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadSecureFile } from '../../src/config/index.js';
import { cleanTempDirs, tempDir, writeFile } from './helpers.js';

afterEach(cleanTempDirs);

const secureText = (...sections: string[][]): string => `${sections.map((s) => s.join('\n')).join('\n\n')}\n`;

describe('the secure file', () => {
  it('gives the database URI and the Jenkins credentials of each target', () => {
    const file = writeFile(tempDir(), 'secure.conf', secureText(
      ['[database]', 'dburi=mysql+pymysql://nodepool:s3cret@127.0.0.1/nodepool'],
      ['[jenkins "jenkins1"]', 'url=https://jenkins.example.org/', 'user=nodepool', 'apikey=0123abcd', 'credentials=ssh-key-id'],
      ['[jenkins "jenkins.example.org"]', 'url=https://j2/', 'user=np', 'apikey=x'],
    ));
    expect(loadSecureFile(file)).toEqual({
      dburi: 'mysql+pymysql://nodepool:s3cret@127.0.0.1/nodepool',
      jenkins: {
        jenkins1: { url: 'https://jenkins.example.org/', user: 'nodepool', apikey: '0123abcd', credentials: 'ssh-key-id' },
        'jenkins.example.org': { url: 'https://j2/', user: 'np', apikey: 'x' },
      },
    });
  });

  it('keeps # and ; inside values, drops inline comments after whitespace, and unquotes', () => {
    const file = writeFile(tempDir(), 'secure.conf', secureText(
      ['[database]', "dburi='mysql://np:pa#ss;word@db/np'   # production database"],
    ));
    expect(loadSecureFile(file).dburi).toBe('mysql://np:pa#ss;word@db/np');
  });

  it('a file without a database section has no dburi', () => {
    const file = writeFile(tempDir(), 'secure.conf', secureText(['[jenkins "j"]', 'url=http://j/']));
    expect(loadSecureFile(file)).toEqual({ jenkins: { j: { url: 'http://j/' } } });
  });

  it('a missing secure file is a ConfigError naming the file', () => {
    const file = join(tempDir(), 'secure.conf');
    expect(() => loadSecureFile(file)).toThrow(ConfigError);
    expect(() => loadSecureFile(file)).toThrow(`${file}: secure file not found`);
  });

  it('a directory given as secure file is a ConfigError', () => {
    expect(() => loadSecureFile(tempDir())).toThrow('secure file is a directory, not a file');
  });
});
