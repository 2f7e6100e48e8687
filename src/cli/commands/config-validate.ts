import { formatProblem, loadConfig } from '../../config/index.js';
import { EXIT_FAILURE, EXIT_OK } from '../failure.js';
import type { Output } from '../output.js';

/** Prints every problem of the file (warnings too) and says whether it can be used. */
export function validateConfig(file: string, out: Output): number {
  const result = loadConfig(file);
  for (const problem of result.problems) out.out(formatProblem(problem));
  if (!result.config) return EXIT_FAILURE;
  out.out('configuration is valid');
  return EXIT_OK;
}
