/** The configuration module's public face: nodepool.yaml, the secure file, clouds.yaml, the database URI. */
export { loadConfig, loadConfigOrThrow } from './load.js';
export type { ConfigResult, LoadOptions } from './load.js';
export { ConfigError, formatProblem } from './problems.js';
export type { ConfigProblem, Severity } from './problems.js';
export { loadSecureFile } from './secure.js';
export { resolveDbUri, redactDbUri } from './dburi.js';
export type { DbUriInputs, DbUriSource } from './dburi.js';
export { cloudsYamlCandidates, findCloudsYaml, loadCloudsYaml } from './clouds.js';
export type { CloudEntry, CloudsLookup } from './clouds.js';
export { DEFAULTS, DEFAULT_FAKE_CLOUD, IMAGE_TYPES } from './defaults.js';
export type * from './types.js';
export { diffConfig, isEmpty, describeDiff, type ConfigDiff, type ProviderChange, type ProviderAspect, type EntryChange, type SectionDiff, type TopLevelSetting } from './diff.js';
