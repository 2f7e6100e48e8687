/**
 * The agents (Jenkins "nodes" and their computers): hudson.model.ComputerSet
 * and hudson.model.Computer, answering as Jenkins core does (checked in
 * jenkinsci/jenkins: ComputerSet.doDoCreateItem and checkName,
 * Jenkins.checkGoodName, Computer.doDoDelete, Slave's constructor).
 */
import { computerSetView, computerView } from './computer-views.js';
import { HttpError, JenkinsFailure, json, redirect, type Reply } from './http-kit.js';
import type { RequestContext, Route } from './router.js';
import { launcherOf, type Agent } from './state.js';

/** The one agent type nodepool creates: NodeDescriptor.all().find(type) takes the descriptor's class name or id. */
const DUMB_SLAVE_TYPES = ['hudson.slaves.DumbSlave$DescriptorImpl', 'hudson.slaves.DumbSlave'];
const UNSAFE_CHARACTERS = '?*/\\%!@#$^&|<>[]:;';

export function computerRoutes(): Route[] {
  return [
    { method: 'GET', template: '/computer/', handle: ({ state }) => ({ status: 200, body: listPage(state.agents.values()) }) },
    { method: 'GET', template: '/computer/api/json', handle: ({ state }) => json(computerSetView(state.agents.values())) },
    { method: 'POST', template: '/computer/doCreateItem', handle: createAgent },
    { method: 'GET', template: '/computer/{name}/api/json', handle: (ctx) => json(computerView(agentOf(ctx))) },
    { method: 'POST', template: '/computer/{name}/doDelete', handle: deleteAgent },
  ];
}

function agentOf({ state, params }: RequestContext): Agent {
  const agent = state.agents.get(params.name ?? '');
  if (!agent) throw new HttpError(404, 'Not Found');
  return agent;
}

/** ComputerSet.doDoCreateItem: name and type are query (or form) parameters, the agent itself the `json` form field. */
function createAgent(ctx: RequestContext): Reply {
  const { form, state } = ctx;
  const name = checkName(ctx, (form.get('name') ?? '').trim() || null);
  const submitted = submittedForm(form);
  const type = form.get('type') ?? '';
  // An unknown type makes find() return null and newInstance throw a NullPointerException.
  if (!DUMB_SLAVE_TYPES.includes(type)) throw new Error(`NullPointerException: no node descriptor ${type}`);
  const executors = Number(submitted.numExecutors ?? 1);
  if (!Number.isInteger(executors) || executors <= 0) {
    throw new JenkinsFailure(`Invalid agent configuration for ${name}. Invalid number of executors.`);
  }
  const launcherFields = isRecord(submitted.launcher) ? submitted.launcher : {};
  const retention = isRecord(submitted.retentionStrategy) ? submitted.retentionStrategy['stapler-class'] : undefined;
  const agent: Agent = {
    name,
    description: typeof submitted.nodeDescription === 'string' ? submitted.nodeDescription : '',
    executors,
    remoteRoot: typeof submitted.remoteFS === 'string' ? submitted.remoteFS.trim() : '',
    labels: typeof submitted.labelString === 'string' ? submitted.labelString.split(/\s+/).filter((l) => l !== '') : [],
    mode: submitted.mode === 'EXCLUSIVE' ? 'EXCLUSIVE' : 'NORMAL',
    launcher: launcherOf(launcherFields),
    ...(typeof retention === 'string' ? { retentionStrategy: retention } : {}),
    online: false,
    createdAt: state.now(),
  };
  state.agents.set(name, agent);
  // "take the user back to the agent list top page": sendRedirect2(".") from /computer/doCreateItem.
  return redirect(302, `${ctx.root}/computer/`);
}

/** ComputerSet.checkName and Jenkins.checkGoodName, in their order, with their messages. */
function checkName({ state }: RequestContext, name: string | null): string {
  if (name === null) throw new JenkinsFailure("Query parameter 'name' is required");
  if (name === '.' || name === '..') throw new JenkinsFailure(`“${name}” is not an allowed name`);
  for (const ch of name) {
    if (isIsoControl(ch)) throw new JenkinsFailure(`No control code is allowed: ${JSON.stringify(name)}`);
    if (UNSAFE_CHARACTERS.includes(ch)) throw new JenkinsFailure(`‘${ch}’ is an unsafe character`);
  }
  if (name.endsWith('.')) throw new JenkinsFailure('A name cannot end with ‘.’');
  if (state.agents.has(name)) throw new JenkinsFailure(`Agent called ‘${name}’ already exists`);
  return name;
}

/** Stapler's getSubmittedForm(): the `json` parameter, parsed. */
function submittedForm(form: URLSearchParams): Record<string, unknown> {
  const text = form.get('json');
  if (text === null || text === '') throw new HttpError(400, 'This page expects a form submission');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`JSONException: the json parameter is not JSON: ${text.slice(0, 80)}`);
  }
  if (!isRecord(parsed)) throw new Error('JSONException: the json parameter is not a JSON object');
  return parsed;
}

/** Computer.doDoDelete: the node goes, and the answer is a redirect to the list (HttpRedirect("..")). */
function deleteAgent(ctx: RequestContext): Reply {
  const agent = agentOf(ctx);
  ctx.state.agents.delete(agent.name);
  return redirect(302, `${ctx.root}/computer/`);
}

function listPage(agents: Iterable<Agent>): string {
  const rows = [...agents].map((a) => `<tr><td><a href="${encodeURIComponent(a.name)}/">${a.name}</a></td></tr>`).join('');
  return `<!DOCTYPE html><html><head><title>Nodes [Jenkins]</title></head><body><table id="computers">${rows}</table></body></html>\n`;
}

/** java.lang.Character.isISOControl. */
function isIsoControl(ch: string): boolean {
  const code = ch.codePointAt(0) ?? 0;
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
