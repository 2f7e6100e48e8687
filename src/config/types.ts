/**
 * The validated configuration as the rest of the system sees it: YAML keys in
 * camelCase, every default applied. The zod schema in schema.ts produces this
 * shape from a nodepool.yaml (keys as Nodepool 0.4 spells them).
 */

export interface NodepoolConfig {
  elementsDir?: string;
  imagesDir?: string;
  /** ext: database URI; the environment and the secure file take precedence. */
  dburi?: string;
  cron: CronConfig;
  zmqPublishers: string[];
  gearmanServers: GearmanServer[];
  /** Seconds between two polls of the Gearman servers' queues. */
  gearmanPollIntervalS: number;
  /** ext: how long a removed actor's transitions are kept (docs/inspection.md). */
  actorHistoryHours: number;
  /** ext: how long a nodepoold's provider leases last unrenewed: a dead daemon's providers move after this (docs/scaling.md). */
  providerLeaseSeconds: number;
  /** ext: how often a nodepoold renews them. */
  providerLeaseRenewSeconds: number;
  labels: Label[];
  providers: Provider[];
  targets: Target[];
  diskimages: DiskImage[];
  webapp: WebappConfig;
  /** ext: a simulated CI system playing against nodepoold (docs/ci-simulator.md); nodepoold itself ignores it. */
  ciSimulator?: CiSimulatorConfig;
}

export interface CronConfig {
  cleanup: string;
  check: string;
}

export interface GearmanServer {
  host: string;
  port: number;
}

export interface WebappConfig {
  listen: string;
  port: number;
}

/** ext: the jobs the CI simulator runs, and where its standalone program publishes their events. */
export interface CiSimulatorConfig {
  jobs: CiSimulatorJob[];
  /** `tcp://host:port` the standalone program binds its ZeroMQ publisher to. */
  publish?: string;
}

export interface CiSimulatorJob {
  name: string;
  /** The label its runs need a node of. */
  label: string;
  /** Seconds between two runs queued (> 0). */
  everyS: number;
  /** Seconds a run takes (>= 0). */
  durationS: number;
  /** Chance in [0, 1] that a run fails. */
  failureRate: number;
  /** The job row's hold-on-failure count when the simulator creates the row. */
  holdOnFailure: number;
}

export interface Label {
  name: string;
  image: string;
  /** -1 disables the label. */
  minReady: number;
  subnodes: number;
  readyScript?: string;
  providers: { name: string }[];
}

export interface DiskImage {
  name: string;
  elements: string[];
  release: string;
  rebuildAge: number;
  envVars: Record<string, string>;
  pause: boolean;
  dibCmd: string;
}

export type ProviderDriver = 'openstack' | 'fake';

export interface ProviderNetwork {
  name?: string;
  netId?: string;
  netLabel?: string;
}

export interface Provider {
  name: string;
  driver: ProviderDriver;
  cloud?: string;
  username?: string;
  password?: string;
  projectId?: string;
  projectName?: string;
  authUrl?: string;
  regionName?: string;
  serviceType?: string;
  serviceName?: string;
  /** Seconds. */
  apiTimeout?: number;
  /** Hard cap of servers (nodes + sub-nodes); -1 (or 0) retires the provider. */
  maxServers: number;
  /** Seconds between API calls. */
  rate: number;
  availabilityZones: string[];
  /** Seconds to get SSH after ACTIVE. */
  bootTimeout: number;
  /** Seconds from create to ACTIVE. */
  launchTimeout: number;
  keypair?: string;
  networks: ProviderNetwork[];
  ipv6Preferred: boolean;
  templateHostname: string;
  imageType: string;
  cleanFloatingIps: boolean;
  images: ProviderImage[];
  /** Only for driver: fake. */
  fake?: FakeCloudSettings;
}

export interface ProviderImage {
  name: string;
  diskimage: string;
  minRam: number;
  nameFilter?: string;
  pause: boolean;
  username: string;
  userHome: string;
  privateKey: string;
  configDrive?: boolean;
  meta: Record<string, string>;
}

/** ext: the simulated cloud behind `driver: fake`. Latencies in seconds, rates in [0, 1]. */
export interface FakeCloudSettings {
  latency: { create: number; active: number; delete: number; upload: number };
  failureRate: { create: number; errorStatus: number; stuckInBuild: number; delete: number; upload: number };
  quota: { instances: number; cores: number; ram: number };
  flavors: { name: string; ram: number; vcpus: number }[];
  /** `host:port` of a real SSH server that the SSH check connects to. */
  ssh?: string;
  /** Keeps the cloud's servers and images in a file across restarts. */
  stateFile?: string;
}

export interface JenkinsTargetConfig {
  url?: string;
  user?: string;
  apikey?: string;
  credentialsId?: string;
  testJob?: string;
}

export interface Target {
  name: string;
  hostname: string;
  subnodeHostname: string;
  rate: number;
  assignViaGearman: boolean;
  jenkins?: JenkinsTargetConfig;
}

/** The secure file (INI): database URI and per-target Jenkins credentials. */
export interface SecureConfig {
  dburi?: string;
  jenkins: Record<string, { url?: string; user?: string; apikey?: string; credentials?: string }>;
}
