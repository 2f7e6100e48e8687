/** `driver: openstack`: Keystone v3, Nova, Glance and Neutron over HTTP. */
export { OpenStackDriver, type OpenStackDriverOptions } from './driver.js';
export { connectionFor, identityV3Url, type OpenStackConnection, type AuthMethod } from './connection.js';
export { OpenStackSession, authRequest, cloudMessage, COMPUTE_MICROVERSION } from './session.js';
export { serverAddresses } from './addresses.js';
export { openstackDriverKind } from './kind.js';
