import { request } from 'undici';
import { afterEach } from 'vitest';
import { startJenkinsSimulator, type JenkinsSimulator, type JenkinsSimulatorOptions } from '../../../src/tools/jenkins-simulator/index.js';

const running: JenkinsSimulator[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.close()));
});

/** A simulator closed after the test. */
export async function simulator(options: JenkinsSimulatorOptions = {}): Promise<JenkinsSimulator> {
  const sim = await startJenkinsSimulator(options);
  running.push(sim);
  return sim;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface CallOptions {
  /** Basic auth as [user, token]; default the simulator's first user; null for none. */
  auth?: [string, string] | null;
  /** The crumb header to send (name and value). */
  crumb?: [string, string];
  /** An application/x-www-form-urlencoded body. */
  form?: Record<string, string>;
  headers?: Record<string, string>;
}

/** One request as python-jenkins makes it; redirects are not followed, so 302/201/303 are seen as sent. */
export async function call(sim: JenkinsSimulator, method: 'GET' | 'POST', path: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const auth = options.auth === undefined ? [sim.credentials.user, sim.credentials.apiToken] : options.auth;
  if (auth) headers.authorization = `Basic ${Buffer.from(`${auth[0]}:${auth[1]}`).toString('base64')}`;
  if (options.crumb) headers[options.crumb[0]] = options.crumb[1];
  let body: string | undefined;
  if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  } else if (method === 'POST') {
    body = '';
  }
  const response = await request(new URL(path, sim.url), { method, headers, body });
  const text = await response.body.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: response.statusCode, headers: response.headers, text, body: parsed };
}

/** A POST carrying the first user's current crumb. */
export function post(sim: JenkinsSimulator, path: string, options: CallOptions = {}): Promise<Answer> {
  return call(sim, 'POST', path, { crumb: ['Jenkins-Crumb', sim.crumb()], ...options });
}

/** The `json` field python-jenkins' create_node sends for nodepool's arguments (credentials id variant). */
export function agentJson(name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    nodeDescription: 'Dynamic single use ubuntu node',
    numExecutors: 1,
    remoteFS: '/home/jenkins',
    labelString: 'ubuntu',
    mode: 'EXCLUSIVE',
    type: 'hudson.slaves.DumbSlave$DescriptorImpl',
    retentionStrategy: { 'stapler-class': 'hudson.slaves.RetentionStrategy$Always' },
    nodeProperties: { 'stapler-class-bag': 'true' },
    launcher: { port: 22, credentialsId: 'nodepool-ssh', host: '203.0.113.7', 'stapler-class': 'hudson.plugins.sshslaves.SSHLauncher' },
    ...overrides,
  };
}

export function createForm(name: string, overrides: Record<string, unknown> = {}): Record<string, string> {
  return { name, type: 'hudson.slaves.DumbSlave$DescriptorImpl', json: JSON.stringify(agentJson(name, overrides)) };
}
