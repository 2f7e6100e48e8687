// The pool as an auditor sees it after a scenario: the database's rows (from
// `nodepool list`) against the simulated cloud's servers (from its state file).
import { existsSync, readFileSync } from 'node:fs';
import { isGone } from '../../dist/src/simulated-cloud/index.js';
import { nodepoolJson } from './common.mjs';

/** Servers the simulated cloud still has, as its state file says (the daemon owns the file; a reader sees whole files). */
export function liveServers(stateFile) {
  if (!existsSync(stateFile)) return [];
  const now = Date.now();
  return JSON.parse(readFileSync(stateFile, 'utf8')).servers.filter((s) => !isGone(s, now));
}

/**
 * The pool as the database and the cloud tell it: what leaked, what was
 * lost or duplicated, and what is not (yet) at rest; `minReady` maps each
 * label to its min-ready.
 */
export async function poolAudit(configFile, stateFile, minReady, held = []) {
  const nodes = await nodepoolJson(configFile, 'list');
  if (!nodes) return undefined;
  const servers = liveServers(stateFile);
  const serverIds = new Set(servers.map((s) => s.id));
  const rowIds = nodes.map((n) => n.server_id).filter(Boolean);
  const rowServers = new Set(rowIds);
  const ready = nodes.filter((n) => n.state === 'ready');
  const holding = nodes.filter((n) => n.state === 'hold');
  return {
    leaked: servers.filter((s) => !rowServers.has(s.id)).length,
    lost: [...ready, ...holding].filter((n) => !serverIds.has(n.server_id)).length + held.filter((id) => !holding.some((n) => n.id === id)).length,
    duplicated: rowIds.length - rowServers.size + Object.entries(minReady).reduce((extra, [label, min]) => extra + Math.max(0, ready.filter((n) => n.label === label).length - min), 0),
    unsettled: nodes.filter((n) => n.state !== 'ready' && n.state !== 'hold').length,
    short: Object.entries(minReady).reduce((missing, [label, min]) => missing + Math.max(0, min - ready.filter((n) => n.label === label).length), 0),
  };
}
