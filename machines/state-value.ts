/** Reading a snapshot's state value without naming a machine's states. */

/** The top-level state of a value: `ready` for 'ready', `deleting` for { deleting: 'deleteFailed' }. */
export function topStateOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : Object.keys((value ?? {}) as object)[0];
}
