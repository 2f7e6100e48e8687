import type { FakeCloudSettings } from '../../config/types.js';
import {
  DriverError,
  type DriverCapabilities,
  type CloudImage,
  type CreateServerRequest,
  type Flavor,
  type FloatingIp,
  type ProviderDriver,
  type Quota,
  type Server,
  type UploadImageRequest,
} from '../driver.js';
import type { FakeCloud } from './cloud.js';

/**
 * What one provider uses to reach a fake cloud. Several drivers may share one
 * cloud; each names its provider in the errors it passes on, and close()
 * releases this driver's hold on the cloud (the cloud itself closes when its
 * last driver does, see registry.ts).
 */
export class FakeDriver implements ProviderDriver {
  private isClosed = false;

  /** Read from the cloud's settings now: a reload that adds `fake.ssh` takes effect at once. */
  get capabilities(): DriverCapabilities {
    return fakeCapabilities(this.cloud.settings);
  }

  /** Until builds are uploaded, nodes boot from an image named like the provider image (docs/fake-cloud.md). */
  prepareStandInImages(names: readonly string[]): void {
    const present = new Set(this.cloud.images().map((i) => i.name));
    for (const name of names) if (!present.has(name)) this.cloud.addImage(name);
  }

  constructor(
    readonly cloud: FakeCloud,
    readonly provider: string,
    private readonly release: () => Promise<void> = async () => {},
  ) {}

  listServers(): Promise<Server[]> {
    return this.call(() => this.cloud.listServers());
  }

  createServer(request: CreateServerRequest): Promise<{ id: string }> {
    return this.call(() => this.cloud.createServer(request));
  }

  deleteServer(id: string): Promise<void> {
    return this.call(() => this.cloud.deleteServer(id));
  }

  listFlavors(): Promise<Flavor[]> {
    return this.call(() => this.cloud.listFlavors());
  }

  listImages(): Promise<CloudImage[]> {
    return this.call(() => this.cloud.listImages());
  }

  uploadImage(request: UploadImageRequest): Promise<{ id: string }> {
    return this.call(() => this.cloud.uploadImage(request));
  }

  deleteImage(id: string): Promise<void> {
    return this.call(() => this.cloud.deleteImage(id));
  }

  getQuota(): Promise<Quota> {
    return this.call(() => this.cloud.getQuota());
  }

  listFloatingIps(): Promise<FloatingIp[]> {
    return this.call(() => this.cloud.listFloatingIps());
  }

  deleteFloatingIp(id: string): Promise<void> {
    return this.call(() => this.cloud.deleteFloatingIp(id));
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    await this.release();
  }

  private async call<T>(operation: () => Promise<T>): Promise<T> {
    if (this.isClosed) {
      throw new DriverError('unavailable', `The driver of provider ${this.provider} is closed`, { provider: this.provider, service: 'fake' });
    }
    try {
      return await operation();
    } catch (error) {
      if (error instanceof DriverError) {
        throw new DriverError(error.kind, `${this.provider}: ${error.message}`, { ...error.details, provider: this.provider });
      }
      throw error;
    }
  }
}

/**
 * A simulated cloud is reached from another process only through its state
 * file; its nodes have an SSH server only where `fake.ssh` names a real one.
 */
export function fakeCapabilities(settings: Pick<FakeCloudSettings, 'stateFile' | 'ssh'>): DriverCapabilities {
  const endpoint = settings.ssh === undefined ? undefined : hostAndPort(settings.ssh);
  const shared = settings.stateFile !== undefined;
  return {
    sharedAcrossProcesses: shared,
    ...(!shared && { localOnlyReason: 'its simulated cloud has no fake.state-file and lives only inside nodepoold' }),
    bootsFromImageName: true,
    sshEndpoint: () => endpoint,
  };
}

/** `host:port` or `[v6]:port`. */
function hostAndPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(at + 1)) };
}
