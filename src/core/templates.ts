/**
 * Hostname and image-name templates as nodepool.yaml writes them, in
 * Python's str.format spelling: `{label.name}-{provider.name}-{node_id}`.
 */
export interface TemplateValues {
  label?: string;
  provider?: string;
  image?: string;
  nodeId?: number;
  subnodeId?: number;
  /** Seconds since the epoch. */
  timestamp?: number;
}

export function renderTemplate(template: string, values: TemplateValues): string {
  const fields: Record<string, string | number | undefined> = {
    'label.name': values.label,
    'provider.name': values.provider,
    'image.name': values.image,
    node_id: values.nodeId,
    subnode_id: values.subnodeId,
    timestamp: values.timestamp,
  };
  return template.replace(/\{([a-z_.]+)\}/g, (whole, name: string) => {
    const value = fields[name];
    return value === undefined ? whole : String(value);
  });
}

/** A node's name is the first dot component of its hostname (docs/behaviour.md, launch step 2). */
export function nodeNameOf(hostname: string): string {
  return hostname.split('.')[0] ?? hostname;
}
