import { describe, expect, it } from 'vitest';
import { dibInvocation, imageTypesFor, type ProvidersOnly } from '../../src/dib/command.js';
import type { DiskImage } from '../../src/config/types.js';

function diskimage(overrides: Partial<DiskImage> = {}): DiskImage {
  return {
    name: 'trusty', elements: ['ubuntu-minimal', 'vm'], release: '', rebuildAge: 86400,
    envVars: {}, pause: false, dibCmd: 'disk-image-create', ...overrides,
  };
}

const base = { imagesDir: '/opt/images', buildId: 7, env: { PATH: '/usr/bin', HOME: '/root' } };

describe('the disk-image-create command line', () => {
  it('builds one raw image with the flags nodepool always passes', () => {
    const inv = dibInvocation({ ...base, diskimage: diskimage(), types: ['raw'] });
    expect(inv.command).toBe('disk-image-create');
    expect(inv.args).toEqual([
      '-x', '-t', 'raw', '--checksum', '--no-tmpfs', '-o', '/opt/images/trusty-7', 'ubuntu-minimal', 'vm',
    ]);
    expect(inv.outputBase).toBe('/opt/images/trusty-7');
  });

  it('asks qemu-img for compat=0.10 when qcow2 is among two types', () => {
    const inv = dibInvocation({ ...base, diskimage: diskimage(), types: ['qcow2', 'vhd'] });
    expect(inv.args).toEqual([
      '-x', '-t', 'qcow2,vhd', '--checksum', '--no-tmpfs', '--qemu-img-options', 'compat=0.10',
      '-o', '/opt/images/trusty-7', 'ubuntu-minimal', 'vm',
    ]);
  });

  it('passes release, name, filename, elements path, a per-diskimage cache and the env-vars', () => {
    const inv = dibInvocation({
      ...base, elementsDir: '/etc/nodepool/elements', types: ['qcow2'],
      diskimage: diskimage({ release: 'trusty', envVars: { DIB_DISTRIBUTION_MIRROR: 'http://mirror', TMPDIR: '/var/tmp' } }),
    });
    expect(inv.env).toEqual({
      PATH: '/usr/bin', HOME: '/root',
      DIB_RELEASE: 'trusty', DIB_IMAGE_NAME: 'trusty', DIB_IMAGE_FILENAME: '/opt/images/trusty-7',
      ELEMENTS_PATH: '/etc/nodepool/elements', DIB_IMAGE_CACHE: '/opt/images/.cache/trusty',
      DIB_DISTRIBUTION_MIRROR: 'http://mirror', TMPDIR: '/var/tmp',
    });
  });

  it('leaves DIB_RELEASE and ELEMENTS_PATH out when not configured, even if inherited', () => {
    const inv = dibInvocation({
      ...base, env: { PATH: '/bin', DIB_RELEASE: 'stale', ELEMENTS_PATH: '/stale' }, diskimage: diskimage(), types: ['raw'],
    });
    expect(inv.env.DIB_RELEASE).toBeUndefined();
    expect(inv.env.ELEMENTS_PATH).toBeUndefined();
  });

  it('does not let env-vars override the variables nodepool owns, but may set the cache', () => {
    const inv = dibInvocation({
      ...base, types: ['raw'],
      diskimage: diskimage({ release: 'xenial', envVars: { DIB_IMAGE_NAME: 'other', DIB_RELEASE: 'x', DIB_IMAGE_CACHE: '/cache' } }),
    });
    expect(inv.env.DIB_IMAGE_NAME).toBe('trusty');
    expect(inv.env.DIB_RELEASE).toBe('xenial');
    expect(inv.env.DIB_IMAGE_CACHE).toBe('/cache');
    expect(inv.ignoredEnvVars).toEqual(['DIB_IMAGE_NAME', 'DIB_RELEASE']);
  });

  it('splits a dib-cmd with arguments on whitespace', () => {
    const inv = dibInvocation({ ...base, diskimage: diskimage({ dibCmd: ' config/fake-image-create  --fail ' }), types: ['tar'] });
    expect(inv.command).toBe('config/fake-image-create');
    expect(inv.args.slice(0, 4)).toEqual(['--fail', '-x', '-t', 'tar']);
  });
});

describe('the image types of a diskimage', () => {
  const config: ProvidersOnly = {
    providers: [
      { imageType: 'vhd', images: [{ name: 'trusty', diskimage: 'trusty' }] },
      { imageType: 'qcow2', images: [{ name: 'other', diskimage: 'other' }] },
      { imageType: 'raw', images: [{ name: 'bionic-small', diskimage: 'trusty' }] },
      { imageType: 'vhd', images: [{ name: 'trusty', diskimage: 'trusty' }] },
    ],
  };

  it('is the union of the image-type of every provider listing it, in provider order', () => {
    expect(imageTypesFor(config, 'trusty')).toEqual(['vhd', 'raw']);
    expect(imageTypesFor(config, 'other')).toEqual(['qcow2']);
  });

  it('is qcow2 when no provider lists it', () => {
    expect(imageTypesFor(config, 'nowhere')).toEqual(['qcow2']);
    expect(imageTypesFor({ providers: [] }, 'trusty')).toEqual(['qcow2']);
  });
});
