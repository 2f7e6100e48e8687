/** The targets nodes are registered with: their gateways (rate-spaced calls), and the Jenkins client they use. */
export { TargetGateway, TargetRegistry, jenkinsSettingsOf } from './target-gateway.js';
export type { JenkinsSettings, NodeToRegister, Registration } from './target-gateway.js';
export { JenkinsClient, JenkinsError, isRetryable } from './jenkins-client.js';
export type { CreateNodeRequest, JenkinsClientOptions, JenkinsOperation } from './jenkins-client.js';
