/**
 * The Jenkins of one target, as nodepool uses it: a ready node becomes an
 * agent of the target (an SSH agent, one executor, exclusive), the agent is
 * removed when the node is deleted, and a target with a test job has that
 * job run on the new node (`NODE=<name>`). The calls are the ones
 * python-jenkins makes for create_node, node_exists / get_node_info,
 * delete_node and build_job (upstream nodepool's myjenkins.py and
 * jenkins_manager.py), against Jenkins' documented REST API.
 *
 * No retries: each method makes its call once and, when it fails, throws a
 * JenkinsError saying whether trying again later may help (`retryable`). The
 * caller spaces calls to a target (its `rate`) and retries them, as
 * upstream's JenkinsManager task queue did. The one repeat inside is
 * Jenkins' own protocol: a POST refused with 403 is sent once more with a
 * freshly fetched crumb (crumbs expire when Jenkins restarts).
 *
 * Every method settles within `timeoutMs`, all its requests included.
 */
import type { Dispatcher, request as undiciRequest } from 'undici';
import type { Logger } from '../log/index.js';

export interface JenkinsClientOptions {
  /** The target's Jenkins URL (`jenkins: url:`), with or without the trailing slash. */
  url: string;
  user: string;
  /** The user's API token. */
  apikey: string;
  /** The bound on each method, every request it makes included; default 30 s. */
  timeoutMs?: number;
  /** Each request at debug level (never the credentials). */
  log?: Logger;
}

/** An agent to create: what upstream's createJenkinsNode passes. */
export interface CreateNodeRequest {
  name: string;
  /** The address the SSH launcher connects to. */
  host: string;
  /** Upstream says `Dynamic single use <label> node`; stored as given. */
  description: string;
  executors: number;
  /** The agent's remote root directory (the image's user-home). */
  remoteRoot: string;
  /** Jenkins labels; none when the target runs a test job first. */
  labels: readonly string[];
  /** The target's `credentials-id`: the launcher uses these Jenkins credentials ... */
  credentialsId?: string;
  /** ... or else this user and private key (a path on the Jenkins controller). */
  username?: string;
  privateKey?: string;
}

export type JenkinsOperation = 'createNode' | 'nodeExists' | 'deleteNode' | 'buildJob';

/** A failed call: which Jenkins, which operation on what, the status if one came, and whether a later try may succeed. */
export class JenkinsError extends Error {
  override readonly name = 'JenkinsError';
  readonly url: string;
  readonly operation: JenkinsOperation;
  /** The agent or job the call was about. */
  readonly subject: string;
  /** The HTTP status, when Jenkins answered. */
  readonly status: number | undefined;
  /** 5xx, 408, 429, a refused or dropped connection, no answer in time: the same call may work later. */
  readonly retryable: boolean;

  constructor(
    fields: { url: string; operation: JenkinsOperation; subject: string; status?: number; retryable: boolean; reason: string },
    options?: { cause?: unknown },
  ) {
    const where = `Jenkins ${fields.url}: ${fields.operation} '${fields.subject}'`;
    super(`${where}: ${fields.reason} (${fields.retryable ? 'retryable' : 'not retryable'})`, options);
    this.url = fields.url;
    this.operation = fields.operation;
    this.subject = fields.subject;
    this.status = fields.status;
    this.retryable = fields.retryable;
  }
}

/** True when the error is a JenkinsError a later try may get past. */
export function isRetryable(error: unknown): boolean {
  return error instanceof JenkinsError && error.retryable;
}

/** python-jenkins' NODE_TYPE: a permanent agent. */
export const NODE_TYPE = 'hudson.slaves.DumbSlave$DescriptorImpl';
export const SSH_LAUNCHER = 'hudson.plugins.sshslaves.SSHLauncher';
const RETENTION_ALWAYS = 'hudson.slaves.RetentionStrategy$Always';
const DEFAULT_TIMEOUT_MS = 30_000;

interface Crumb {
  field: string;
  value: string;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One call in progress: what it is about, and its deadline. */
interface Call {
  operation: JenkinsOperation;
  subject: string;
  signal: AbortSignal;
}

export class JenkinsClient {
  readonly url: string;
  private readonly base: URL;
  private readonly authorization: string;
  private readonly timeoutMs: number;
  private readonly log: Logger | undefined;
  /** undici, loaded at the first call: a pool without Jenkins targets never carries it. */
  private agent: Promise<{ dispatcher: Dispatcher; request: typeof undiciRequest }> | undefined;
  /** undefined: not asked yet; null: Jenkins has no crumb issuer (404). */
  private crumbState: Crumb | null | undefined;

  constructor(options: JenkinsClientOptions) {
    this.url = options.url.endsWith('/') ? options.url : `${options.url}/`;
    this.base = new URL(this.url);
    this.authorization = `Basic ${Buffer.from(`${options.user}:${options.apikey}`, 'utf8').toString('base64')}`;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.log = options.log;
  }

  /**
   * POST computer/doCreateItem with the form python-jenkins sends: `name`,
   * `type` and `json` (the agent: description, executors, remote root,
   * labels, mode EXCLUSIVE, retention Always, the SSH launcher on port 22
   * with the credentials id or the user name and private key). An agent of
   * that name already there counts as created, as upstream nodepool counted
   * it: 'existed'.
   */
  async createNode(node: CreateNodeRequest): Promise<'created' | 'existed'> {
    const call = this.call('createNode', node.name);
    const form = new URLSearchParams({ name: node.name, type: NODE_TYPE, json: JSON.stringify(agentForm(node)) });
    const answer = await this.post(call, 'computer/doCreateItem', form);
    if (isSuccess(answer) && redirectsTo(answer, /\/computer\/$/)) return 'created';
    if (answer.status === 400 && /already exists/.test(jenkinsMessage(answer))) return 'existed';
    throw this.answerError(call, answer);
  }

  /** GET computer/<name>/api/json?depth=0 (get_node_info): 200 is there, 404 is not. */
  async nodeExists(name: string): Promise<boolean> {
    const call = this.call('nodeExists', name);
    const answer = await this.send(call, 'GET', `computer/${encodeURIComponent(name)}/api/json`, { query: new URLSearchParams({ depth: '0' }) });
    if (answer.status === 404) return false;
    if (answer.status !== 200) throw this.answerError(call, answer);
    if (!isJsonObject(answer.text)) throw this.error(call, answer.status, 'the answer is not the JSON of a computer', false);
    return true;
  }

  /** POST computer/<name>/doDelete. An agent already gone (404) counts as deleted: 'absent'. */
  async deleteNode(name: string): Promise<'deleted' | 'absent'> {
    const call = this.call('deleteNode', name);
    const answer = await this.post(call, `computer/${encodeURIComponent(name)}/doDelete`);
    if (answer.status === 404) return 'absent';
    if (isSuccess(answer) && redirectsTo(answer, /\/computer\/$/)) return 'deleted';
    throw this.answerError(call, answer);
  }

  /**
   * POST job/<name>/buildWithParameters?<parameters>, as build_job does.
   * Resolves to the queue item's number from the Location Jenkins answers
   * (201 for a new item, 303 for the identical item already waiting).
   */
  async buildJob(job: string, parameters: Readonly<Record<string, string>>): Promise<number> {
    const call = this.call('buildJob', job);
    const path = `${job.split('/').map((part) => `job/${encodeURIComponent(part)}`).join('/')}/buildWithParameters`;
    const answer = await this.post(call, path, undefined, new URLSearchParams(parameters));
    if (answer.status !== 201 && answer.status !== 303) throw this.answerError(call, answer);
    const location = header(answer, 'location') ?? '';
    const item = /\/queue\/item\/(\d+)\/?$/.exec(location);
    if (!item) throw this.error(call, answer.status, `no queue item in the answer's Location '${location}'`, false);
    return Number(item[1]);
  }

  async close(): Promise<void> {
    if (this.agent) await (await this.agent).dispatcher.close();
  }

  private call(operation: JenkinsOperation, subject: string): Call {
    return { operation, subject, signal: AbortSignal.timeout(this.timeoutMs) };
  }

  /** A POST with the crumb; refused with 403, once more with a fresh crumb. */
  private async post(call: Call, path: string, form?: URLSearchParams, query?: URLSearchParams): Promise<Answer> {
    const crumb = await this.crumb(call);
    const answer = await this.send(call, 'POST', path, { form, query, crumb });
    if (answer.status !== 403) return answer;
    if (this.crumbState === crumb) this.crumbState = undefined;
    this.log?.debug({ url: this.url, operation: call.operation, subject: call.subject }, 'jenkins refused the crumb; fetching a new one');
    return this.send(call, 'POST', path, { form, query, crumb: await this.crumb(call) });
  }

  /** The cached crumb, or GET crumbIssuer/api/json; a 404 there means Jenkins wants none. */
  private async crumb(call: Call): Promise<Crumb | null> {
    if (this.crumbState !== undefined) return this.crumbState;
    const answer = await this.send(call, 'GET', 'crumbIssuer/api/json');
    if (answer.status === 404) {
      this.crumbState = null;
      return null;
    }
    if (answer.status !== 200) throw this.answerError(call, answer, 'fetching a crumb: ');
    let issued: { crumbRequestField?: unknown; crumb?: unknown } = {};
    try {
      issued = JSON.parse(answer.text) as typeof issued;
    } catch {
      // Reported below.
    }
    if (typeof issued.crumbRequestField !== 'string' || typeof issued.crumb !== 'string') {
      throw this.error(call, answer.status, 'fetching a crumb: the crumb issuer answered without crumbRequestField and crumb', false);
    }
    this.crumbState = { field: issued.crumbRequestField, value: issued.crumb };
    return this.crumbState;
  }

  private async send(
    call: Call,
    method: 'GET' | 'POST',
    path: string,
    options: { query?: URLSearchParams; form?: URLSearchParams; crumb?: Crumb | null } = {},
  ): Promise<Answer> {
    const url = new URL(path, this.base);
    if (options.query && [...options.query.keys()].length > 0) url.search = options.query.toString();
    const headers: Record<string, string> = { authorization: this.authorization, accept: 'application/json' };
    if (options.crumb) headers[options.crumb.field] = options.crumb.value;
    let body: string | undefined;
    if (method === 'POST') {
      body = options.form?.toString() ?? '';
      if (options.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const started = performance.now();
    try {
      this.agent ??= import('undici').then(({ Agent, request }) => ({ dispatcher: new Agent({ keepAliveTimeout: 10_000 }), request }));
      const { dispatcher, request } = await this.agent;
      const response = await request(url, { method, headers, body, signal: call.signal, dispatcher });
      const text = await response.body.text();
      this.log?.debug(
        { url: this.url, operation: call.operation, subject: call.subject, method, path, status: response.statusCode, ms: Math.round(performance.now() - started) },
        'jenkins call',
      );
      return { status: response.statusCode, headers: response.headers, text };
    } catch (err) {
      throw this.transportError(call, method, path, err);
    }
  }

  private answerError(call: Call, answer: Answer, context = ''): JenkinsError {
    const { status } = answer;
    const said = jenkinsMessage(answer);
    let reason = `${context}HTTP ${status}${said ? `: ${said}` : ''}`;
    if (status === 401) reason += ' (the user or API token was refused)';
    if (status === 403) reason += ' (refused even with a fresh crumb: the user may lack the permission)';
    if (status >= 300 && status < 400) reason += ` (redirected to '${header(answer, 'location') ?? ''}': is the URL Jenkins' own?)`;
    return this.error(call, status, reason, status >= 500 || status === 408 || status === 429);
  }

  private error(call: Call, status: number | undefined, reason: string, retryable: boolean, cause?: unknown): JenkinsError {
    return new JenkinsError(
      { url: this.url, operation: call.operation, subject: call.subject, ...(status === undefined ? {} : { status }), retryable, reason },
      cause === undefined ? undefined : { cause },
    );
  }

  /** No answer: refused, dropped or late connections are retryable; a certificate or URL problem is not. */
  private transportError(call: Call, method: string, path: string, err: unknown): JenkinsError {
    if (call.signal.aborted) return this.error(call, undefined, `${method} ${path}: no answer within ${this.timeoutMs} ms`, true, err);
    const code = (err as { code?: unknown }).code;
    const text = typeof code === 'string' ? code : '';
    const permanent = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS|ERR_INVALID_URL|UND_ERR_INVALID_ARG|UND_ERR_NOT_SUPPORTED/.test(text);
    const what = text === 'ECONNREFUSED' ? 'connection refused' : `${text ? `${text}: ` : ''}${(err as Error).message}`;
    return this.error(call, undefined, `${method} ${path}: ${what}`, !permanent, err);
  }
}

/** The `json` form field python-jenkins builds for create_node with nodepool's arguments. */
export function agentForm(node: CreateNodeRequest): Record<string, unknown> {
  let credentials: Record<string, unknown>;
  if (node.credentialsId !== undefined) {
    credentials = { credentialsId: node.credentialsId };
  } else if (node.username !== undefined && node.privateKey !== undefined) {
    credentials = { username: node.username, privatekey: node.privateKey };
  } else {
    throw new TypeError(`createNode ${node.name}: give credentialsId, or username and privateKey`);
  }
  return {
    name: node.name,
    nodeDescription: node.description,
    numExecutors: node.executors,
    remoteFS: node.remoteRoot,
    labelString: node.labels.length > 0 ? node.labels.join(' ') : null,
    mode: 'EXCLUSIVE',
    type: NODE_TYPE,
    retentionStrategy: { 'stapler-class': RETENTION_ALWAYS },
    nodeProperties: { 'stapler-class-bag': 'true' },
    launcher: { port: 22, ...credentials, host: node.host, 'stapler-class': SSH_LAUNCHER },
  };
}

function isSuccess(answer: Answer): boolean {
  return answer.status >= 200 && answer.status < 400;
}

/** A 2xx, or a redirect to where Jenkins sends a browser after the action (not a proxy's or a login page's redirect). */
function redirectsTo(answer: Answer, target: RegExp): boolean {
  if (answer.status < 300) return true;
  const location = header(answer, 'location');
  if (location === undefined) return false;
  try {
    return target.test(new URL(location, 'http://jenkins.invalid/').pathname);
  } catch {
    return false;
  }
}

function header(answer: Answer, name: string): string | undefined {
  const value = answer.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** What Jenkins said: its error page's X-Error header, Jetty's error title, or the page's text, shortened. */
function jenkinsMessage(answer: Answer): string {
  // A header is Latin-1: Jenkins' ‘quotes’ arrive as '?'.
  const xError = header(answer, 'x-error');
  if (xError) return xError;
  const title = /<title>\s*Error \d+\s*([^<]*)<\/title>/i.exec(answer.text)?.[1];
  if (title) return decodeEntities(title.trim());
  const plain = decodeEntities(answer.text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim());
  return plain.length > 200 ? `${plain.slice(0, 200)}...` : plain;
}

function decodeEntities(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}
