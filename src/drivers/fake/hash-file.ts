import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';

/** Reads a file as a stream (never whole into memory) and returns its size and SHA-256. */
export async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(
    createReadStream(path),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        hash.update(chunk);
        done();
      },
    }),
  );
  return { size, sha256: hash.digest('hex') };
}
