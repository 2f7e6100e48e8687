/**
 * Nova's limits on a server's metadata: the `metadata_items` quota (its
 * default, not configurable in either simulated cloud) and the widths of the
 * key and value columns.
 */
export const NOVA_METADATA_LIMITS = { items: 128, keyLength: 255, valueLength: 255 } as const;
