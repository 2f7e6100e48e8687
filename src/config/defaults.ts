/**
 * Every default of nodepool.yaml in one place (docs/configuration.md), so the
 * schema, the docs and the tests agree on one value.
 */
import type { FakeCloudSettings } from './types.js';

export const DEFAULTS = {
  cron: { cleanup: '27 */6 * * *', check: '*/15 * * * *' },
  gearmanPort: 4730,
  gearmanPollInterval: 10,
  actorHistoryHours: 24,
  providerLeaseSeconds: 20,
  providerLeaseRenewSeconds: 5,
  zookeeperPort: 2181,
  webapp: { listen: '127.0.0.1', port: 8005 },
  label: { minReady: 2, subnodes: 0 },
  diskimage: { release: '', rebuildAge: 86400, pause: false, dibCmd: 'disk-image-create' },
  provider: {
    driver: 'openstack',
    rate: 1.0,
    bootTimeout: 60,
    launchTimeout: 3600,
    ipv6Preferred: false,
    templateHostname: 'template-{image.name}-{timestamp}',
    imageType: 'qcow2',
    cleanFloatingIps: false,
  },
  providerImage: {
    pause: false,
    username: 'jenkins',
    userHome: '/home/jenkins',
    privateKey: '/var/lib/jenkins/.ssh/id_rsa',
  },
  target: {
    hostname: '{label.name}-{provider.name}-{node_id}',
    subnodeHostname: '{label.name}-{provider.name}-{node_id}-{subnode_id}',
    rate: 1.0,
    assignViaGearman: false,
  },
  ciSimulatorJob: { failureRate: 0, holdOnFailure: 0 },
} as const;

export const DEFAULT_FAKE_CLOUD: FakeCloudSettings = {
  latency: { create: 0.2, active: 0.5, delete: 0.3, upload: 1.0 },
  failureRate: { create: 0, errorStatus: 0, stuckInBuild: 0, delete: 0, upload: 0 },
  quota: { instances: 1000, cores: 4000, ram: 4096000 },
  flavors: [
    { name: 'm1.tiny', ram: 512, vcpus: 1 },
    { name: 'm1.small', ram: 2048, vcpus: 1 },
    { name: 'm1.medium', ram: 4096, vcpus: 2 },
    { name: 'm1.large', ram: 8192, vcpus: 4 },
  ],
};

/** Output formats diskimage-builder knows (`disk-image-create -t`). */
export const IMAGE_TYPES = [
  'raw', 'qcow2', 'vhd', 'vhdx', 'qed', 'vdi', 'vmdk', 'tar', 'tgz', 'squashfs', 'docker', 'aci',
] as const;

export const DRIVERS = ['openstack', 'fake'] as const;

/** Nova's limits on server metadata. */
export const META_LIMITS = { entries: 5, length: 255 } as const;
