import type { Agent } from './state.js';

/**
 * GET /computer/<name>/api/json at depth 0: the properties hudson.model.Computer
 * and hudson.slaves.SlaveComputer export (@Exported), as Stapler writes them.
 * Load statistics and monitor data are left empty: nothing measures here.
 */
export function computerView(agent: Agent): Record<string, unknown> {
  const icon = agent.online ? 'symbol-computer' : 'symbol-computer-offline';
  return {
    _class: 'hudson.slaves.SlaveComputer',
    actions: [],
    assignedLabels: [...agent.labels, agent.name].map((name) => ({ name })),
    description: agent.description,
    displayName: agent.name,
    executors: Array.from({ length: agent.executors }, () => ({})),
    icon,
    iconClassName: icon,
    idle: true,
    jnlpAgent: false,
    launchSupported: true,
    loadStatistics: { _class: 'hudson.model.Label$1' },
    manualLaunchAllowed: true,
    monitorData: {},
    numExecutors: agent.executors,
    offline: !agent.online,
    offlineCause: null,
    offlineCauseReason: '',
    oneOffExecutors: [],
    temporarilyOffline: false,
    absoluteRemotePath: agent.online ? agent.remoteRoot : null,
  };
}

/** GET /computer/api/json: hudson.model.ComputerSet (the built-in node is left out: nodepool never asks for it). */
export function computerSetView(agents: Iterable<Agent>): Record<string, unknown> {
  const computers = [...agents].map(computerView);
  return {
    _class: 'hudson.model.ComputerSet',
    busyExecutors: 0,
    computer: computers,
    displayName: 'Nodes',
    totalExecutors: computers.reduce((sum, c) => sum + (c.numExecutors as number), 0),
  };
}
