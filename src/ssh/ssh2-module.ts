/**
 * ssh2, loaded at the first SSH connection or key: a daemon whose nodes are
 * never reached over SSH (the simulated cloud) never holds its ten
 * megabytes.
 */
import type * as Ssh2Namespace from 'ssh2';

type Ssh2 = typeof Ssh2Namespace;

let loading: Promise<Ssh2> | undefined;

export function ssh2Module(): Promise<Ssh2> {
  loading ??= import('ssh2').then((module) => (module as unknown as { default?: Ssh2 }).default ?? module);
  return loading;
}
