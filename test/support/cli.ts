import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one of the real executables (bin/) as a user would, from the compiled
 * output. `npm test` builds first; a bare `vitest` run needs `npm run build`.
 */
export function runExecutable(
  program: 'nodepool' | 'nodepoold' | 'nodepool-builder',
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const compiled = `${PROJECT_ROOT}dist/src/cli/${program}.js`;
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run \`npm run build\` first`);
  const env = { ...process.env, NODEPOOL_DBURI: undefined, ...options.env };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`${PROJECT_ROOT}bin/${program}.js`, ...args],
      { env, cwd: options.cwd ?? PROJECT_ROOT, timeout: options.timeoutMs ?? 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
