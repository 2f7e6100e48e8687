/**
 * The allocation's input and output. Everything here is plain data (no
 * classes, no functions) so the daemon can build it from the database, log it,
 * and persist the history as JSON between runs.
 */
import type { Label, Provider, Target } from '../config/types.js';
import type { AllocationHistory } from './history.js';

/** The parts of a label the allocation reads; a full `Label` fits. */
export type AllocationLabel = Pick<Label, 'name' | 'image' | 'minReady' | 'subnodes' | 'providers'>;
/** The parts of a provider the allocation reads; a full `Provider` fits. */
export type AllocationProvider = Pick<Provider, 'name' | 'maxServers'>;
/** The parts of a target the allocation reads; a full `Target` fits. */
export type AllocationTarget = Pick<Target, 'name'>;

/** The configuration the allocation needs; a full `NodepoolConfig` fits. */
export interface AllocationConfig {
  labels: readonly AllocationLabel[];
  providers: readonly AllocationProvider[];
  /** In configuration order: a label's nodes go to the first online one. */
  targets: readonly AllocationTarget[];
}

export type NodeState = 'building' | 'test' | 'ready' | 'used' | 'hold' | 'delete';

/** How many nodes (not counting sub-nodes) are in one state. */
export interface NodeTally {
  provider: string;
  label: string;
  target: string;
  state: NodeState;
  count: number;
}

/** An existing node that has fewer sub-nodes than its label asks for. */
export interface SubnodeDeficit {
  nodeId: number;
  provider: string;
  label: string;
  /** Sub-nodes still to launch for this node. */
  missing: number;
}

/** A (provider, image) pair with a ready upload: the provider can launch the image. */
export interface UsableImage {
  provider: string;
  /** The label's `image` (the provider image name). */
  image: string;
}

export interface AllocationInput {
  config: AllocationConfig;
  /** Node counts by (provider, label, target, state); absent means zero. */
  nodes: readonly NodeTally[];
  /**
   * Servers each provider holds now, nodes plus sub-nodes, in any state.
   * A provider missing here is estimated from `nodes` as count x (1 + the
   * label's subnodes); the daemon should pass the real figure.
   */
  providerServers?: Readonly<Record<string, number>>;
  /** Existing nodes whose sub-nodes are missing; filled before new nodes. */
  subnodeDeficits?: readonly SubnodeDeficit[];
  /** Queued work per label name (from the demand sources); absent means zero. */
  demand?: Readonly<Record<string, number>>;
  /** Only these providers take part for a label whose image they list here. */
  usableImages: readonly UsableImage[];
  /**
   * Servers the cloud quota still allows per provider; absent or undefined
   * means unknown (no limit beyond max-servers).
   */
  quotaHeadroom?: Readonly<Record<string, number | undefined>>;
  /** Target names that are online; absent means every configured target. */
  onlineTargets?: readonly string[];
  /** What the previous run returned; absent means a fresh start. */
  history?: AllocationHistory;
}

/** Launch `count` new nodes of `label` in `provider` for `target`. */
export interface Launch {
  provider: string;
  label: string;
  target: string;
  count: number;
}

/** Launch `count` sub-nodes for the existing node `nodeId`. */
export interface SubnodeLaunch {
  nodeId: number;
  provider: string;
  label: string;
  count: number;
}

/**
 * Why a label was granted less than `extra` (its queued demand plus
 * min-ready top-up).
 * - `disabled`: min-ready is -1.
 * - `no-provider`: none of its providers exists with max-servers above 0.
 * - `no-image`: none of those providers has a ready upload of its image.
 * - `no-target`: no target is online.
 * - `capacity`: its providers are full; part of the real (queued) demand waits.
 * - `min-ready-deferred`: queued demand was served but the min-ready top-up
 *   does not fit into what is left, so it is not asked for this run.
 */
export type ShortReason =
  | 'disabled'
  | 'no-provider'
  | 'no-image'
  | 'no-target'
  | 'capacity'
  | 'min-ready-deferred';

export interface LabelDiagnostic {
  label: string;
  queued: number;
  minReady: number;
  /** ready + building + used + test on online targets. */
  counted: number;
  /** max(0, queued - counted): real demand. */
  actual: number;
  /** max(0, queued + min-ready - counted): real demand plus top-up. */
  extra: number;
  /** Nodes granted this run (sum of this label's launches). */
  granted: number;
  /** Providers that took part (configured, max-servers > 0, ready image). */
  providers: string[];
  /** Where this run's nodes go; undefined when no target is online. */
  target: string | undefined;
  /** Set when granted < extra. */
  short: ShortReason | undefined;
  /** One line for the log: `label X: 3 wanted, 0 launched: no provider has a ready image`. */
  message: string;
}

export interface ProviderDiagnostic {
  provider: string;
  /** Servers free before this run: min(max-servers - servers, quota headroom), at least 0. */
  free: number;
  /** Servers this run takes (nodes x (1 + subnodes) plus sub-node launches). */
  used: number;
}

export interface AllocationResult {
  /** One entry per (provider, label, target) with count > 0: labels in configuration order, each label's providers in its own order. */
  launches: Launch[];
  /** Sub-node launches, in node id order. */
  subnodeLaunches: SubnodeLaunch[];
  /** Pass to the next run. */
  history: AllocationHistory;
  /** One per configured label, in configuration order. */
  labels: LabelDiagnostic[];
  /** One per configured provider, in configuration order. */
  providers: ProviderDiagnostic[];
}
