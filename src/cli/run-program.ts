import { CommanderError, type Command } from 'commander';
import { CommandFailure, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './failure.js';
import type { Output } from './output.js';
import { codeOf } from '../core/errors.js';
import { databaseReason } from '../db/errors.js';

/** `[NP_DB_UNAVAILABLE] database ... is unavailable: ...`, or the bare message of an error without a code. */
function withCode(err: unknown): string {
  // A database driver's error is told by its reason: never the SQL statement it failed on.
  const database = databaseReason(err);
  if (database !== undefined) return `the database refused the change: ${database}`;
  const message = (err as Error | null)?.message ?? String(err);
  const code = codeOf(err);
  return code ? `[${code}] ${message}` : message;
}

/** A line past this many characters is shortened on stderr: commander repeats a refused value whole (a 70,000-character reason). */
const LONGEST_ERROR_LINE = 300;

function shortenLongLines(text: string): string {
  return text
    .split('\n')
    .map((line) => (line.length > LONGEST_ERROR_LINE ? `${line.slice(0, 200)}... (${line.length} characters)${line.slice(-80)}` : line))
    .join('\n');
}

/**
 * Runs a commander program and turns every outcome into an exit code:
 * usage errors 2 (commander has already printed them), failures 1 with their
 * one-line reason, anything unexpected 1 with its message and no stack trace.
 */
export async function runProgram(program: Command, argv: readonly string[], output: Output): Promise<number> {
  program.exitOverride();
  const writes = { writeOut: (s: string) => output.out(s), writeErr: (s: string) => output.err(shortenLongLines(s)) };
  program.configureOutput(writes);
  for (const command of program.commands) {
    command.exitOverride();
    command.configureOutput(writes);
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK;
      // `nodepool` with no command prints its help as an error: a usage error, as docs/commands.md says.
      if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      return EXIT_USAGE;
    }
    if (err instanceof CommandFailure) {
      output.err(`${program.name()}: ${withCode(err)}`);
      return err.exitCode;
    }
    output.err(`${program.name()}: ${withCode(err)}`);
    return EXIT_FAILURE;
  }
}
