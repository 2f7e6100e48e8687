import { nodepooldProgram, prepareDaemon, type NodepooldOptions } from './daemon-programs.js';
import { processOutput } from './output.js';
import { runProgram } from './run-program.js';

const program = nodepooldProgram().action(async (options: NodepooldOptions) => {
  await prepareDaemon('nodepoold', options, processOutput);
  processOutput.out('nodepoold: launching and deleting nodes is not implemented yet; nothing more to do.');
});

process.exitCode = await runProgram(program, process.argv.slice(2), processOutput);
