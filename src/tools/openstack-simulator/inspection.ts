import type { CloudState } from './cloud-state.js';
import type { Server } from './compute-store.js';
import type { Image } from './image-store.js';
import { shownState } from './nova-views.js';

/** A server as a test sees it: what was stored, and the state it shows now. */
export interface ServerSnapshot {
  id: string;
  name: string;
  status: string;
  taskState: string | null;
  projectId: string;
  metadata: Record<string, string>;
  flavorId: string;
  flavorName: string;
  imageId: string;
  availabilityZone: string;
  keyName: string | null;
  configDrive: boolean;
  addresses: Array<{ network: string; addr: string }>;
  fault: string | null;
  createdAt: number;
}

export interface ImageSnapshot {
  id: string;
  name: string | null;
  status: string;
  diskFormat: string | null;
  containerFormat: string | null;
  visibility: string;
  owner: string;
  properties: Record<string, string>;
  size: number | null;
  checksum: string | null;
  osHashAlgo: string | null;
  osHashValue: string | null;
  sha256: string | null;
}

export function serverSnapshot(state: CloudState, server: Server): ServerSnapshot {
  const now = state.now();
  const phase = state.compute.phase(server, now);
  const shown = shownState({ state }, server, now);
  const addresses = state.network.portsOf(server.id).map((p) => ({
    network: state.network.networks.get(p.networkId)?.name ?? p.networkId,
    addr: p.ip,
  }));
  return {
    id: server.id,
    name: server.name,
    status: phase === 'gone' ? 'DELETED' : shown.status,
    taskState: phase === 'gone' ? null : shown.task,
    projectId: server.projectId,
    metadata: { ...server.metadata },
    flavorId: server.flavor.id,
    flavorName: server.flavor.name,
    imageId: server.imageId,
    availabilityZone: server.availabilityZone,
    keyName: server.keyName,
    configDrive: server.configDrive,
    addresses,
    fault: shown.status === 'ERROR' ? server.faultMessage ?? null : null,
    createdAt: server.createdAt,
  };
}

export function imageSnapshot(state: CloudState, image: Image): ImageSnapshot {
  return {
    id: image.id,
    name: image.name,
    status: state.images.status(image),
    diskFormat: image.diskFormat,
    containerFormat: image.containerFormat,
    visibility: image.visibility,
    owner: image.owner,
    properties: { ...image.properties },
    size: image.size,
    checksum: image.checksum,
    osHashAlgo: image.osHashAlgo,
    osHashValue: image.osHashValue,
    sha256: image.sha256,
  };
}
