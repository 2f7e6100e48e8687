/**
 * Launch step 9: the files every node of a node set gets under
 * /etc/nodepool/ (docs/ssh.md, "Node-set files"), so
 * jobs spanning several nodes can find and reach each other.
 */
import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { shellQuote } from './shell.js';
import { ssh2Module } from './ssh2-module.js';

export interface NodeAddress {
  ip: string;
  /** Falls back to `ip` when the node has no private address. */
  ipPrivate?: string | null;
}

export interface NodeSetKeyPair {
  /** PEM (PKCS#1, `BEGIN RSA PRIVATE KEY`, as upstream's paramiko wrote it). */
  privateKey: string;
  /** OpenSSH one-line form, `ssh-rsa AAAA...`. */
  publicKey: string;
}

export interface NodeSetFilesInput {
  role: 'primary' | 'sub';
  /** The node these files are written on. */
  node: NodeAddress;
  primary: NodeAddress;
  subnodes: readonly NodeAddress[];
  keyPair: NodeSetKeyPair;
  provider: { name: string; cloud?: string | null; region?: string | null; az?: string | null };
  /** This node's server id (its `uuid` file). */
  serverId: string;
}

/** The file names, in the order they are written. */
export const NODE_SET_FILE_NAMES = [
  'role',
  'node',
  'node_private',
  'primary_node',
  'primary_node_private',
  'sub_nodes',
  'sub_nodes_private',
  'id_rsa',
  'id_rsa.pub',
  'provider',
  'uuid',
] as const;

export type NodeSetFileName = (typeof NODE_SET_FILE_NAMES)[number];

const privateOf = (address: NodeAddress): string => address.ipPrivate || address.ip;
const line = (value: string): string => `${value}\n`;
const shellValue = (value: string | null | undefined): string => (value ? shellQuote(value) : '');
const lines = (values: readonly string[]): string => values.map(line).join('');

/** Contents of every node-set file, each line ending in a newline (as upstream wrote them). */
export function buildNodeSetFiles(input: NodeSetFilesInput): Record<NodeSetFileName, string> {
  const { provider } = input;
  return {
    role: line(input.role),
    node: line(input.node.ip),
    node_private: line(privateOf(input.node)),
    primary_node: line(input.primary.ip),
    primary_node_private: line(privateOf(input.primary)),
    sub_nodes: lines(input.subnodes.map((s) => s.ip)),
    sub_nodes_private: lines(input.subnodes.map(privateOf)),
    id_rsa: input.keyPair.privateKey.endsWith('\n') ? input.keyPair.privateKey : line(input.keyPair.privateKey),
    'id_rsa.pub': line(input.keyPair.publicKey.trim()),
    // Plain values come out exactly as upstream wrote them; odd ones are quoted so the file can be sourced.
    provider: lines([
      `NODEPOOL_PROVIDER=${shellValue(provider.name)}`,
      `NODEPOOL_CLOUD=${shellValue(provider.cloud)}`,
      `NODEPOOL_REGION=${shellValue(provider.region)}`,
      `NODEPOOL_AZ=${shellValue(provider.az)}`,
    ]),
    uuid: line(input.serverId),
  };
}

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * A fresh 2048-bit RSA key pair for one node set. Asynchronous so that making
 * it does not stall the daemon's other actors.
 */
export async function generateNodeSetKeyPair(): Promise<NodeSetKeyPair> {
  const { privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const parsed = (await ssh2Module()).utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('generated key could not be read back');
  const publicKey = `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`;
  return { privateKey, publicKey };
}
