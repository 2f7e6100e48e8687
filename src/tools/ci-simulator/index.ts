/** The CI simulator: jobs queued and run on nodepool's nodes, their events as Jenkins publishes them (docs/ci-simulator.md). */
export { CiSimulator, DISPATCH_INTERVAL_MS, MAX_QUEUED_RUNS_PER_JOB, STOP_WAIT_MS } from './simulator.js';
export type { BuildEvent, CiSimulatorOptions } from './simulator.js';
export { inProcessCiSimulator } from './in-process.js';
export type { InProcessCiSimulator, InProcessCiSimulatorOptions } from './in-process.js';
export { databaseNodeSource } from './node-source.js';
export type { NodeSource, SimulatedNode } from './node-source.js';
export { LocalRunQueue } from './local-queue.js';
export { GearmanRunQueue, buildFunction } from './gearman-queue.js';
export type { RunQueue, RunResult, TakenRun } from './run-queue.js';
export { sshWork, type NodeWork } from './ssh-work.js';
export { runCiSimulatorProgram } from './program.js';
