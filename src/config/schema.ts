/**
 * The zod schema of nodepool.yaml. Input keys are spelled as Nodepool 0.4
 * spells them; each section's transform gives the camelCase shape of
 * types.ts with every default applied. The `*Shape` objects are exported so
 * that keys.ts can tell known keys from unknown ones without a second list.
 */
import { z } from 'zod';
import { cronProblem } from './cron.js';
import { DEFAULTS, DEFAULT_FAKE_CLOUD, DRIVERS, IMAGE_TYPES, META_LIMITS } from './defaults.js';
import type {
  CiSimulatorConfig, DiskImage, FakeCloudSettings, Label, NodepoolConfig, Provider, ProviderImage, ProviderNetwork, Target,
} from './types.js';

const str = z.string();
/** What names a label, provider, image, diskimage, flavor or target: an empty one names nothing. */
const name = z.string().min(1, { error: 'must not be empty' });
// zod reports a string given for z.int() as "expected number"; say integer.
const int = z.int({ error: (iss) => (iss.code === 'invalid_type' ? 'expected an integer' : undefined) });
const bool = z.boolean();
const positiveSeconds = z.number().positive({ error: 'must be a positive number of seconds' });
const rate = z.number().positive({ error: 'must be greater than 0 (seconds between calls)' });
const port = int.min(1, { error: 'must be a port number (1-65535)' }).max(65535, { error: 'must be a port number (1-65535)' });
/** YAML turns `release: 21` or `DIB_CHECKSUM: 1` into numbers; the value is an environment string. */
const stringish = z.union([z.string(), z.number(), z.boolean()]).transform(String);
const cron = z.string().superRefine((expr, ctx) => {
  const problem = cronProblem(expr);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

// ---- top-level small sections ------------------------------------------------

export const cronShape = { cleanup: cron.optional(), check: cron.optional() };
const cronSchema = z.object(cronShape).transform((c) => ({
  cleanup: c.cleanup ?? DEFAULTS.cron.cleanup,
  check: c.check ?? DEFAULTS.cron.check,
}));

export const gearmanShape = { host: str, port: port.optional() };
const gearmanSchema = z.object(gearmanShape).transform((g) => ({ host: g.host, port: g.port ?? DEFAULTS.gearmanPort }));

export const webappShape = {
  listen: str.optional(),
  // 0 asks the system for a free port (tests run several daemons at once).
  port: int.min(0, { error: 'must be a port number (0-65535)' }).max(65535, { error: 'must be a port number (0-65535)' }).optional(),
};
const webappSchema = z.object(webappShape).transform((w) => ({
  listen: w.listen ?? DEFAULTS.webapp.listen,
  port: w.port ?? DEFAULTS.webapp.port,
}));

const zmqPublisher = z.string().regex(/^tcp:\/\/.+:\d+$/, { error: 'must look like tcp://host:port' });

// ---- labels ------------------------------------------------------------------

export const labelProviderShape = { name };

export const labelShape = {
  name,
  image: str,
  'min-ready': int.min(-1, { error: 'must be -1 (label disabled) or more' }).optional(),
  subnodes: int.min(0, { error: 'must not be negative' }).optional(),
  'ready-script': str.optional(),
  providers: z.array(z.object(labelProviderShape)).optional(),
};
const labelSchema = z.object(labelShape).transform((l): Label => ({
  name: l.name,
  image: l.image,
  minReady: l['min-ready'] ?? DEFAULTS.label.minReady,
  subnodes: l.subnodes ?? DEFAULTS.label.subnodes,
  ...(l['ready-script'] !== undefined && { readyScript: l['ready-script'] }),
  providers: l.providers ?? [],
}));

// ---- diskimages --------------------------------------------------------------

export const diskimageShape = {
  name,
  elements: z.array(str).optional(),
  release: z.union([z.string(), z.number()]).transform(String).optional(),
  'rebuild-age': int.positive({ error: 'must be a positive number of seconds' }).optional(),
  'env-vars': z.record(z.string(), stringish).optional(),
  pause: bool.optional(),
  'dib-cmd': str.min(1, { error: 'must not be empty' }).optional(),
};
const diskimageSchema = z.object(diskimageShape).transform((d): DiskImage => ({
  name: d.name,
  elements: d.elements ?? [],
  release: d.release ?? DEFAULTS.diskimage.release,
  rebuildAge: d['rebuild-age'] ?? DEFAULTS.diskimage.rebuildAge,
  envVars: d['env-vars'] ?? {},
  pause: d.pause ?? DEFAULTS.diskimage.pause,
  dibCmd: d['dib-cmd'] ?? DEFAULTS.diskimage.dibCmd,
}));

// ---- provider images ---------------------------------------------------------

const metaSchema = z.record(z.string(), stringish).superRefine((meta, ctx) => {
  const entries = Object.entries(meta);
  if (entries.length > META_LIMITS.entries) {
    ctx.addIssue({
      code: 'custom',
      message: `has ${entries.length} entries; Nova allows at most ${META_LIMITS.entries}`,
    });
  }
  for (const [key, value] of entries) {
    if (key.length > META_LIMITS.length) {
      ctx.addIssue({ code: 'custom', path: [key], message: `key is ${key.length} characters long; at most ${META_LIMITS.length} allowed` });
    }
    if (value.length > META_LIMITS.length) {
      ctx.addIssue({ code: 'custom', path: [key], message: `value is ${value.length} characters long; at most ${META_LIMITS.length} allowed` });
    }
  }
});

export const providerImageShape = {
  name,
  diskimage: str.optional(),
  'min-ram': int.min(0, { error: 'must not be negative (MB)' }),
  'name-filter': str.optional(),
  pause: bool.optional(),
  username: str.optional(),
  'user-home': str.optional(),
  'private-key': str.optional(),
  'config-drive': bool.optional(),
  meta: metaSchema.optional(),
};
const providerImageSchema = z.object(providerImageShape).transform((i): ProviderImage => ({
  name: i.name,
  diskimage: i.diskimage ?? i.name,
  minRam: i['min-ram'],
  ...(i['name-filter'] !== undefined && { nameFilter: i['name-filter'] }),
  pause: i.pause ?? DEFAULTS.providerImage.pause,
  username: i.username ?? DEFAULTS.providerImage.username,
  userHome: i['user-home'] ?? DEFAULTS.providerImage.userHome,
  privateKey: i['private-key'] ?? DEFAULTS.providerImage.privateKey,
  ...(i['config-drive'] !== undefined && { configDrive: i['config-drive'] }),
  meta: i.meta ?? {},
}));

// ---- networks ----------------------------------------------------------------

/** `{name}` now; `{net-id}` / `{net-label}` in older files; `public` was already ignored by 0.4. */
export const networkShape = { name: str.optional(), 'net-id': str.optional(), 'net-label': str.optional() };
const networkSchema = z.preprocess(
  // A bare string is the network's name, as later Nodepool releases allow.
  (v) => (typeof v === 'string' ? { name: v } : v),
  z.object(networkShape)
    .refine((n) => [n.name, n['net-id'], n['net-label']].filter((x) => x !== undefined).length === 1, {
      error: 'a network needs exactly one of name, net-id or net-label',
    })
    .transform((n): ProviderNetwork => ({
      ...(n.name !== undefined && { name: n.name }),
      ...(n['net-id'] !== undefined && { netId: n['net-id'] }),
      ...(n['net-label'] !== undefined && { netLabel: n['net-label'] }),
    })),
);

// ---- the fake cloud (ext) ----------------------------------------------------

const latency = z.number().min(0, { error: 'must not be negative (seconds)' });
const probability = z.number().min(0, { error: 'must be between 0 and 1' }).max(1, { error: 'must be between 0 and 1' });
const sshAddress = z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})$/, {
  error: 'must look like host:port (or [ipv6]:port)',
}).refine((s) => {
  const p = Number(s.slice(s.lastIndexOf(':') + 1));
  return p >= 1 && p <= 65535;
}, { error: 'port must be between 1 and 65535' });

const d = DEFAULT_FAKE_CLOUD;
export const fakeLatencyShape = { create: latency.optional(), active: latency.optional(), delete: latency.optional(), upload: latency.optional() };
export const fakeFailureShape = {
  create: probability.optional(), 'error-status': probability.optional(),
  'stuck-in-build': probability.optional(), delete: probability.optional(), upload: probability.optional(),
};
/** A quota limit as Nova gives it: -1 is unlimited. */
const quotaLimit = int.min(-1, { error: 'must be -1 (unlimited) or a number of 0 or more' });
export const fakeQuotaShape = { instances: quotaLimit.optional(), cores: quotaLimit.optional(), ram: quotaLimit.optional() };
export const fakeFlavorShape = {
  name,
  ram: int.positive({ error: 'must be a positive number of MB' }),
  vcpus: int.positive({ error: 'must be a positive number' }),
};
export const fakeShape = {
  latency: z.object(fakeLatencyShape).optional(),
  'failure-rate': z.object(fakeFailureShape).optional(),
  quota: z.object(fakeQuotaShape).optional(),
  flavors: z.array(z.object(fakeFlavorShape)).min(1, { error: 'needs at least one flavor' }).optional(),
  ssh: sshAddress.optional(),
  'state-file': str.optional(),
};
export const fakeSchema = z.object(fakeShape).transform((f): FakeCloudSettings => ({
  latency: { ...d.latency, ...defined(f.latency) },
  failureRate: {
    create: f['failure-rate']?.create ?? d.failureRate.create,
    errorStatus: f['failure-rate']?.['error-status'] ?? d.failureRate.errorStatus,
    stuckInBuild: f['failure-rate']?.['stuck-in-build'] ?? d.failureRate.stuckInBuild,
    delete: f['failure-rate']?.delete ?? d.failureRate.delete,
    upload: f['failure-rate']?.upload ?? d.failureRate.upload,
  },
  quota: { ...d.quota, ...defined(f.quota) },
  flavors: f.flavors ?? d.flavors.map((fl) => ({ ...fl })),
  ...(f.ssh !== undefined && { ssh: f.ssh }),
  ...(f['state-file'] !== undefined && { stateFile: f['state-file'] }),
}));

/** Drops undefined members so that spreading over defaults keeps the defaults. */
function defined<T extends object>(o: T | undefined): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as never;
}

// ---- the CI simulator (ext) ---------------------------------------------------

/** The job is the middle part of the Gearman function `build:<job>:<label>`, which colons separate. */
const ciJobName = name.refine((n) => !n.includes(':'), { error: "must not contain ':' (it separates the job from the label in build:<job>:<label>)" });
export const ciSimulatorJobShape = {
  name: ciJobName,
  label: name,
  every: positiveSeconds,
  duration: z.number().min(0, { error: 'must not be negative (seconds)' }),
  'failure-rate': probability.optional(),
  'hold-on-failure': int.min(0, { error: 'must not be negative (nodes)' }).optional(),
};
export const ciSimulatorShape = {
  jobs: z.array(z.object(ciSimulatorJobShape)),
  publish: zmqPublisher.optional(),
};
const ciSimulatorSchema = z.object(ciSimulatorShape).transform((c): CiSimulatorConfig => ({
  jobs: c.jobs.map((j) => ({
    name: j.name,
    label: j.label,
    everyS: j.every,
    durationS: j.duration,
    failureRate: j['failure-rate'] ?? DEFAULTS.ciSimulatorJob.failureRate,
    holdOnFailure: j['hold-on-failure'] ?? DEFAULTS.ciSimulatorJob.holdOnFailure,
  })),
  ...(c.publish !== undefined && { publish: c.publish }),
}));

// ---- providers ---------------------------------------------------------------

export const providerShape = {
  name,
  driver: z.enum(DRIVERS).optional(),
  cloud: str.optional(),
  username: str.optional(),
  password: str.optional(),
  'project-id': str.optional(),
  'project-name': str.optional(),
  'auth-url': str.optional(),
  'region-name': str.optional(),
  'service-type': str.optional(),
  'service-name': str.optional(),
  'api-timeout': positiveSeconds.optional(),
  'max-servers': int.min(-1, { error: 'must be -1 (provider retired) or more' }),
  rate: rate.optional(),
  'availability-zones': z.array(str).optional(),
  'boot-timeout': positiveSeconds.optional(),
  'launch-timeout': positiveSeconds.optional(),
  keypair: str.optional(),
  networks: z.array(networkSchema).optional(),
  'ipv6-preferred': bool.optional(),
  'template-hostname': str.optional(),
  'image-type': z.enum(IMAGE_TYPES).optional(),
  'clean-floating-ips': bool.optional(),
  images: z.array(providerImageSchema).optional(),
  // Checked (and defaulted) only for driver fake: on an openstack provider it is ignored.
  fake: z.unknown().optional(),
};

type RawProvider = z.infer<z.ZodObject<typeof providerShape>>;

/**
 * Nodepool 0.4 switched to its in-process fake cloud when `auth-url` was
 * `fake` (tools/fake.yaml); keep that meaning when no driver is named.
 */
export function driverOf(p: { driver?: string; 'auth-url'?: unknown }): string {
  return p.driver ?? (p['auth-url'] === 'fake' ? 'fake' : DEFAULTS.provider.driver);
}

const providerSchema = z.object(providerShape)
  .superRefine((p, ctx) => {
    if (driverOf(p) !== 'fake') return;
    const parsed = fakeSchema.safeParse(p.fake ?? {});
    for (const issue of parsed.error?.issues ?? []) {
      ctx.addIssue({ ...issue, path: ['fake', ...issue.path] } as never);
    }
  })
  .transform(toProvider);

function toProvider(p: RawProvider): Provider {
  const driver = driverOf(p) as Provider['driver'];
  const optional = {
    cloud: p.cloud, username: p.username, password: p.password, projectId: p['project-id'],
    projectName: p['project-name'], authUrl: p['auth-url'], regionName: p['region-name'],
    serviceType: p['service-type'], serviceName: p['service-name'], apiTimeout: p['api-timeout'],
    keypair: p.keypair,
  };
  return {
    name: p.name,
    driver,
    ...defined(optional),
    maxServers: p['max-servers'],
    rate: p.rate ?? DEFAULTS.provider.rate,
    availabilityZones: p['availability-zones'] ?? [],
    bootTimeout: p['boot-timeout'] ?? DEFAULTS.provider.bootTimeout,
    launchTimeout: p['launch-timeout'] ?? DEFAULTS.provider.launchTimeout,
    networks: p.networks ?? [],
    ipv6Preferred: p['ipv6-preferred'] ?? DEFAULTS.provider.ipv6Preferred,
    templateHostname: p['template-hostname'] ?? DEFAULTS.provider.templateHostname,
    imageType: p['image-type'] ?? DEFAULTS.provider.imageType,
    cleanFloatingIps: p['clean-floating-ips'] ?? DEFAULTS.provider.cleanFloatingIps,
    images: p.images ?? [],
    ...(driver === 'fake' && { fake: fakeSchema.parse(p.fake ?? {}) }),
  };
}

// ---- targets -----------------------------------------------------------------

export const jenkinsShape = {
  url: str.optional(), user: str.optional(), apikey: str.optional(),
  'credentials-id': str.optional(), 'test-job': str.optional(),
};
export const targetShape = {
  name,
  hostname: str.optional(),
  'subnode-hostname': str.optional(),
  rate: rate.optional(),
  'assign-via-gearman': bool.optional(),
  jenkins: z.object(jenkinsShape).optional(),
};
const targetSchema = z.object(targetShape).transform((t): Target => ({
  name: t.name,
  hostname: t.hostname ?? DEFAULTS.target.hostname,
  subnodeHostname: t['subnode-hostname'] ?? DEFAULTS.target.subnodeHostname,
  rate: t.rate ?? DEFAULTS.target.rate,
  assignViaGearman: t['assign-via-gearman'] ?? DEFAULTS.target.assignViaGearman,
  ...(t.jenkins && {
    jenkins: defined({
      url: t.jenkins.url, user: t.jenkins.user, apikey: t.jenkins.apikey,
      credentialsId: t.jenkins['credentials-id'], testJob: t.jenkins['test-job'],
    }),
  }),
}));

// ---- the file ----------------------------------------------------------------

export const topShape = {
  'elements-dir': str.optional(),
  'images-dir': str.optional(),
  dburi: str.min(1, { error: 'must not be empty' }).optional(),
  cron: cronSchema.optional(),
  'zmq-publishers': z.array(zmqPublisher).optional(),
  'gearman-servers': z.array(gearmanSchema).optional(),
  'gearman-poll-interval': positiveSeconds.optional(),
  'actor-history-hours': z.number().positive({ error: 'must be a positive number of hours' }).optional(),
  'provider-lease-seconds': positiveSeconds.optional(),
  'provider-lease-renew-seconds': positiveSeconds.optional(),
  labels: z.array(labelSchema),
  providers: z.array(providerSchema),
  targets: z.array(targetSchema),
  diskimages: z.array(diskimageSchema).optional(),
  webapp: webappSchema.optional(),
  'ci-simulator': ciSimulatorSchema.optional(),
};

export const nodepoolSchema = z.object(topShape).transform((c): NodepoolConfig => ({
  ...(c['elements-dir'] !== undefined && { elementsDir: c['elements-dir'] }),
  ...(c['images-dir'] !== undefined && { imagesDir: c['images-dir'] }),
  ...(c.dburi !== undefined && { dburi: c.dburi }),
  cron: c.cron ?? { ...DEFAULTS.cron },
  zmqPublishers: c['zmq-publishers'] ?? [],
  gearmanServers: c['gearman-servers'] ?? [],
  gearmanPollIntervalS: c['gearman-poll-interval'] ?? DEFAULTS.gearmanPollInterval,
  actorHistoryHours: c['actor-history-hours'] ?? DEFAULTS.actorHistoryHours,
  providerLeaseSeconds: c['provider-lease-seconds'] ?? DEFAULTS.providerLeaseSeconds,
  providerLeaseRenewSeconds: c['provider-lease-renew-seconds'] ?? DEFAULTS.providerLeaseRenewSeconds,
  labels: c.labels,
  providers: c.providers,
  targets: c.targets,
  diskimages: c.diskimages ?? [],
  webapp: c.webapp ?? { ...DEFAULTS.webapp },
  ...(c['ci-simulator'] !== undefined && { ciSimulator: c['ci-simulator'] }),
}));
