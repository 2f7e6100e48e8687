export { startJenkinsSimulator, type JenkinsSimulator } from './simulator.js';
export type { JenkinsAgentSeed, JenkinsJobSeed, JenkinsSimulatorOptions, JenkinsUserSeed } from './options.js';
export type { Failure, FailureRule, RequestRecord } from './faults.js';
export type { AgentSnapshot, BuildSnapshot } from './inspection.js';
export type { Launcher } from './state.js';
export { SSH_LAUNCHER } from './state.js';
