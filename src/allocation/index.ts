/** The allocation: a pure function from counts and configuration to launches. */
export { allocate } from './allocate.js';
export { COUNTED_STATES } from './demand.js';
export { openPool, serversHeld } from './capacity.js';
export { emptyHistory, HISTORY_WINDOW, type AllocationHistory, type LabelHistory } from './history.js';
export type {
  AllocationConfig,
  AllocationInput,
  AllocationLabel,
  AllocationProvider,
  AllocationResult,
  AllocationTarget,
  LabelDiagnostic,
  Launch,
  NodeState,
  NodeTally,
  ProviderDiagnostic,
  ShortReason,
  SubnodeDeficit,
  SubnodeLaunch,
  UsableImage,
} from './types.js';
