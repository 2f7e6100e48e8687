import { SimulatedClock } from 'xstate';
import { afterEach } from 'vitest';
import { startOpenStackSimulator, type OpenStackSimulator, type OpenStackSimulatorOptions } from '../../../src/tools/openstack-simulator/index.js';

export interface Answer<T = any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

const running: OpenStackSimulator[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.close()));
});

/** A simulator closed after the test. */
export async function simulator(options: OpenStackSimulatorOptions = {}): Promise<OpenStackSimulator> {
  const sim = await startOpenStackSimulator(options);
  running.push(sim);
  return sim;
}

/** A simulator on a clock the test moves by hand: no test sleeps for a transition. */
export async function clockedSimulator(options: OpenStackSimulatorOptions = {}): Promise<{ sim: OpenStackSimulator; clock: SimulatedClock }> {
  const clock = new SimulatedClock();
  clock.set(Date.parse('2024-05-01T12:00:00Z'));
  return { sim: await simulator({ clock, ...options }), clock };
}

export async function call(url: string, init: RequestInit & { json?: unknown } = {}): Promise<Answer> {
  const headers = new Headers(init.headers);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(init.json);
  }
  const response = await fetch(url, { ...init, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

export function passwordAuth(user = 'nodepool', password = 'nodepool', project: unknown = { name: 'nodepool', domain: { name: 'Default' } }): unknown {
  return {
    auth: {
      identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password } } },
      ...(project === undefined ? {} : { scope: { project } }),
    },
  };
}

export async function authenticate(sim: OpenStackSimulator, body: unknown = passwordAuth()): Promise<Answer & { token: string }> {
  const answer = await call(`${sim.url}/auth/tokens`, { method: 'POST', json: body });
  return { ...answer, token: answer.headers.get('x-subject-token') ?? '' };
}

/** A client that sends the token (and a compute microversion) the way a driver would. */
export class Client {
  constructor(readonly sim: OpenStackSimulator, public token: string, public microversion = '2.79') {}

  static async login(sim: OpenStackSimulator, microversion = '2.79'): Promise<Client> {
    const { token, status } = await authenticate(sim);
    if (status !== 201) throw new Error(`login failed: ${status}`);
    return new Client(sim, token, microversion);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { 'x-auth-token': this.token, accept: 'application/json', 'openstack-api-version': `compute ${this.microversion}`, ...extra };
  }

  compute(method: string, path: string, json?: unknown, headers?: Record<string, string>): Promise<Answer> {
    return call(`${this.sim.endpoints.compute}${path}`, { method, json, headers: this.headers(headers) });
  }

  image(method: string, path: string, json?: unknown, headers?: Record<string, string>): Promise<Answer> {
    return call(`${this.sim.endpoints.image}${path}`, { method, json, headers: this.headers(headers) });
  }

  network(method: string, path: string): Promise<Answer> {
    return call(`${this.sim.endpoints.network}${path}`, { method, headers: this.headers() });
  }

  async createServer(server: Record<string, unknown>): Promise<Answer> {
    return this.compute('POST', '/servers', { server: { ...(await this.serverDefaults()), ...server } });
  }

  /** imageRef of the seeded active image, m1.small, the `public` network. */
  async serverDefaults(): Promise<Record<string, unknown>> {
    const image = this.sim.images().find((i) => i.name === 'cirros-fake');
    const flavor = this.sim.flavors().find((f) => f.name === 'm1.small');
    const network = this.sim.networks().find((n) => n.name === 'public');
    return { name: 'np0000000001', imageRef: image?.id, flavorRef: flavor?.id, networks: [{ uuid: network?.id }] };
  }
}

/** Polls until `check` returns a value, for what runs on real time; fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
