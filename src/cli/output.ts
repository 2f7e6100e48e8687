/** Where a program writes; a test can run a program in-process and read both. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/**
 * A reader that went away (`nodepool list | head`) ends the command quietly,
 * as Unix tools do, rather than with an unhandled EPIPE and its stack trace.
 */
let watchingStdout = false;
function watchStdout(): void {
  if (watchingStdout) return;
  watchingStdout = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

export const processOutput: Output = {
  out: (text) => {
    watchStdout();
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  },
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};
