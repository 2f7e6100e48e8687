/**
 * The inspector page's files, as `npm run build` leaves them in
 * dist/web-page/ (scripts/bundle-page.mjs), for the status server to serve
 * at `/`. Only the three known names are served, so no request path reaches
 * the file system; each file is read once and kept, as it does not change
 * while the daemon runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface PageAsset {
  body: Buffer;
  contentType: string;
}

export interface PageAssets {
  /** The asset at a request path (`/`, `/app.js`, `/style.css`), or undefined when the path is not one, or the page was not built. */
  get(path: string): PageAsset | undefined;
}

const FILES: Record<string, { file: string; contentType: string }> = {
  '/': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', contentType: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', contentType: 'text/css; charset=utf-8' },
};

/**
 * Compiled, this file is dist/src/web/page-assets.js and the page is
 * ../../web-page/; run from its source (the tests), it is src/web/ and the
 * page is the project's dist/web-page/.
 */
const CANDIDATE_DIRS = [new URL('../../web-page/', import.meta.url), new URL('../../dist/web-page/', import.meta.url)];

export function pageAssets(dirs: readonly URL[] = CANDIDATE_DIRS): PageAssets {
  const cache = new Map<string, PageAsset>();
  let dir: URL | undefined;
  return {
    get(path) {
      const known = FILES[path];
      if (!known) return undefined;
      const cached = cache.get(known.file);
      if (cached) return cached;
      // Looked up at first use rather than at start: a build made after the daemon started is still found.
      dir ??= dirs.find((candidate) => existsSync(fileURLToPath(new URL('index.html', candidate))));
      if (!dir) return undefined;
      let body: Buffer;
      try {
        body = readFileSync(fileURLToPath(new URL(known.file, dir)));
      } catch {
        return undefined;
      }
      const asset = { body, contentType: known.contentType };
      cache.set(known.file, asset);
      return asset;
    },
  };
}
