import type { NodeInput } from '../../machines/node.machine.js';

/** A node actor's input as the launcher makes it, with short test timeouts. */
export function nodeInput(nodeId: number, overrides: Partial<NodeInput> = {}): NodeInput {
  return {
    nodeId,
    role: 'primary',
    requestedAt: 0,
    launchTimeoutMs: 60_000,
    bootTimeoutMs: 30_000,
    subnodes: 0,
    hasTestJob: false,
    ipv6Preferred: false,
    ...overrides,
  };
}
