// The live inspector page (src/web/page/) as three files in dist/web-page/,
// made by `npm run build`: the daemons serve them at / (src/web/page-assets.ts).
// One bundled script and no external URL: the page works on a host without
// internet access, and the daemon ships with nothing to fetch at run time.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = join(ROOT, 'src/web/page');
const OUT = join(ROOT, 'dist/web-page');

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
await build({
  entryPoints: [join(SOURCE, 'main.ts')],
  outfile: join(OUT, 'app.js'),
  bundle: true,
  // A classic script run after parsing (defer): no module loading, one request.
  format: 'iife',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
for (const file of ['index.html', 'style.css']) copyFileSync(join(SOURCE, file), join(OUT, file));
