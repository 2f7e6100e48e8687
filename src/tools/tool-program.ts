/**
 * What the simulators' programs share: where they write, and how their
 * command line is read (exit codes as the other programs: 0 after --help,
 * 2 for a usage error).
 */
import { CommanderError, type Command, type OptionValues } from 'commander';

export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

/** The options of `program` from `argv`, or the exit code when there is nothing to run (--help, a usage error, already printed). */
export function readToolOptions<T extends OptionValues>(program: Command, argv: readonly string[], output: CliOutput): { options: T } | { exitCode: number } {
  program.exitOverride().configureOutput({ writeOut: (s) => output.out(s), writeErr: (s) => output.err(s) });
  try {
    program.parse([...argv], { from: 'user' });
    return { options: program.opts<T>() };
  } catch (error) {
    if (error instanceof CommanderError) return { exitCode: error.code === 'commander.helpDisplayed' || error.code === 'commander.help' ? 0 : 2 };
    throw error;
  }
}
