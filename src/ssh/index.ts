export { checkSsh, DEFAULT_RETRY_INTERVAL_MS, type SshCheckOptions, type SshCheckResult } from './check.js';
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_SSH_PORT,
  type HostKeyInfo,
  type HostKeyPolicy,
  type SshConnectionOptions,
} from './connection.js';
export {
  ReadyScriptFailed,
  SftpWriteFailed,
  SshCheckFailed,
  SshConnectionFailed,
  SshKeyUnusable,
  type SshErrorKind,
  type SshFailureReason,
  type SshTarget,
} from './errors.js';
export {
  buildNodeSetFiles,
  generateNodeSetKeyPair,
  NODE_SET_FILE_NAMES,
  type NodeAddress,
  type NodeSetFileName,
  type NodeSetFilesInput,
  type NodeSetKeyPair,
} from './node-set-files.js';
export {
  READY_SCRIPT_DIRECTORY,
  runReadyScript,
  type OutputStream,
  type ReadyScriptOptions,
  type ReadyScriptResult,
} from './ready-script.js';
export { nodepoolEnvironment, shellQuote } from './shell.js';
export { NODE_SET_DIRECTORY, nodeSetFileMode, writeNodeSetFiles, type WriteFilesOptions, type WrittenFile } from './sftp.js';
