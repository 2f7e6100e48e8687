// The `nodepool` command as a few bundled files (dist/cli-bundle/), made by
// `npm run build` after tsc. A command is a short-lived process: loading the
// three hundred modules of its imports one by one (resolving each path,
// reading and compiling each file, knex and lodash as CommonJS) took about
// 0.1 s of the 0.25 s that `nodepool delete` took; from one bundle it is a
// few reads. The daemons, which start once, run from dist/ as compiled.
//
// Left out of the bundle, and loaded from node_modules when used: native
// modules, the database drivers knex loads by name, ssh2 (which loads a
// native helper when it is there), and undici, which only the commands that
// reach an OpenStack cloud load, and whose CommonJS exports a bundle would
// hand over under other names.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist/cli-bundle');

const EXTERNAL = [
  'better-sqlite3', 'mysql2', 'ssh2', 'cpu-features', 'undici', 'zeromq',
  // knex's other dialects: never installed here, required only when named in a URI.
  'pg', 'pg-query-stream', 'sqlite3', 'tedious', 'oracledb', 'mysql', 'mariadb',
];

rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: [join(ROOT, 'dist/src/cli/nodepool.js')],
  outdir: OUT,
  bundle: true,
  // The commands that reach clouds stay in chunks of their own, loaded when run.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // CommonJS packages inside an ES module bundle still call require().
  banner: { js: "import { createRequire as bundleRequire } from 'node:module'; const require = bundleRequire(import.meta.url);" },
  logLevel: 'warning',
});
