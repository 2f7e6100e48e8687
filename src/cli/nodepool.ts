import { runNodepool } from './nodepool-program.js';

process.exitCode = await runNodepool(process.argv.slice(2));
