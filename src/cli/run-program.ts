import { CommanderError, type Command } from 'commander';
import { CommandFailure, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './failure.js';
import type { Output } from './output.js';
import { codeOf } from '../core/errors.js';

/** `[NP_DB_UNAVAILABLE] database ... is unavailable: ...`, or the bare message of an error without a code. */
function withCode(err: unknown): string {
  const message = (err as Error | null)?.message ?? String(err);
  const code = codeOf(err);
  return code ? `[${code}] ${message}` : message;
}

/**
 * Runs a commander program and turns every outcome into an exit code:
 * usage errors 2 (commander has already printed them), failures 1 with their
 * one-line reason, anything unexpected 1 with its message and no stack trace.
 */
export async function runProgram(program: Command, argv: readonly string[], output: Output): Promise<number> {
  program.exitOverride();
  program.configureOutput({ writeOut: (s) => output.out(s), writeErr: (s) => output.err(s) });
  for (const command of program.commands) {
    command.exitOverride();
    command.configureOutput({ writeOut: (s) => output.out(s), writeErr: (s) => output.err(s) });
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        return EXIT_OK;
      }
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
