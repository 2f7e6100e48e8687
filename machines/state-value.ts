/** Reading a snapshot's state value without naming a machine's states. */

/** The top-level state of a value: `ready` for 'ready', `deleting` for { deleting: 'deleteFailed' }. */
export function topStateOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : Object.keys((value ?? {}) as object)[0];
}

/** The whole state as a dotted path: `building.waitingForServer`; parallel regions joined by `, `. */
export function statePathOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .map(([key, inner]) => {
        const rest = statePathOf(inner);
        return rest ? `${key}.${rest}` : key;
      })
      .join(', ');
  }
  return '';
}
