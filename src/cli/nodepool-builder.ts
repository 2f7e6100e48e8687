import { builderProgram, prepareDaemon, type BuilderOptions } from './daemon-programs.js';
import { processOutput } from './output.js';
import { runProgram } from './run-program.js';

const program = builderProgram().action(async (options: BuilderOptions) => {
  const { db } = await prepareDaemon('nodepool-builder', options);
  await db.close();
  processOutput.out('nodepool-builder: building and uploading images is not implemented yet; nothing more to do.');
});

process.exitCode = await runProgram(program, process.argv.slice(2), processOutput);
