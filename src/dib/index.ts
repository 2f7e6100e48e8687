export {
  dibInvocation, imageTypesFor, imageCacheDir, fileExtension, NODEPOOL_DIB_VARIABLES,
  type DibInvocation, type DibInvocationInput,
} from './command.js';
export {
  runDiskImageCreate, stopLeftoverBuild, checksumsOf, computeChecksums, liveGroupMembers,
  type DibResult, type DibFormat, type DibFailureReason, type RunOptions,
} from './run.js';
export { removeBuildOutput } from './build-files.js';
