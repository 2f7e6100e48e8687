import { hexId } from './ids.js';
import type { Endpoints } from './router.js';

export interface CatalogEntry {
  endpoints: Array<{ id: string; interface: string; region_id: string; url: string; region: string }>;
  id: string;
  type: string;
  name: string;
}

const SERVICES = [
  { type: 'identity', name: 'keystone', url: (e: Endpoints) => e.identity },
  { type: 'compute', name: 'nova', url: (e: Endpoints) => e.compute },
  { type: 'image', name: 'glance', url: (e: Endpoints) => e.image },
  { type: 'network', name: 'neutron', url: (e: Endpoints) => e.network },
] as const;

/**
 * The token's catalog: public, internal and admin endpoints of every service
 * in the one region. Ids are made once, so every token shows the same catalog.
 */
export function buildCatalog(endpoints: Endpoints, region: string): CatalogEntry[] {
  return SERVICES.map((service) => ({
    endpoints: (['public', 'internal', 'admin'] as const).map((iface) => ({
      id: hexId(), interface: iface, region_id: region, url: service.url(endpoints), region,
    })),
    id: hexId(),
    type: service.type,
    name: service.name,
  }));
}
