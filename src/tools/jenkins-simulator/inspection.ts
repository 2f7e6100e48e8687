import type { Agent, Build, Launcher } from './state.js';

/** An agent as a test sees it: exactly what was stored from the create request. */
export interface AgentSnapshot {
  name: string;
  description: string;
  executors: number;
  remoteRoot: string;
  labels: string[];
  mode: 'NORMAL' | 'EXCLUSIVE';
  launcher: Launcher;
  retentionStrategy?: string;
  online: boolean;
  createdAt: number;
}

export interface BuildSnapshot {
  /** The queue item's id, the number at the end of the Location answered. */
  queueId: number;
  job: string;
  parameters: Record<string, string>;
  state: 'queued' | 'started';
  queuedAt: number;
  /** Who asked for it. */
  user: string;
}

export function agentSnapshot(agent: Agent): AgentSnapshot {
  return structuredClone(agent);
}

export function buildSnapshot(build: Build): BuildSnapshot {
  return structuredClone(build);
}
