import { describe, expect, it } from 'vitest';
import { nodeIdFromMetadata, serverMetadata, subnodeIdFromMetadata } from '../../src/core/server-metadata.js';
import { nodeNameOf, renderTemplate } from '../../src/core/templates.js';

describe('server metadata', () => {
  it('carries groups and nodepool as JSON text, with the image meta', () => {
    const metadata = serverMetadata({ image: 'debian', provider: 'cloud1', nodeId: 42, meta: { purpose: 'ci' } });
    expect(metadata).toEqual({
      purpose: 'ci',
      groups: '["debian","cloud1"]',
      nodepool: '{"image_name":"debian","provider_name":"cloud1","node_id":42}',
    });
    expect(nodeIdFromMetadata(metadata, 'cloud1')).toBe(42);
  });

  it('names no node for another provider, or for metadata nodepool did not write', () => {
    const metadata = serverMetadata({ image: 'debian', provider: 'cloud1', nodeId: 42, meta: {} });
    expect(nodeIdFromMetadata(metadata, 'cloud2')).toBeUndefined();
    expect(nodeIdFromMetadata({ nodepool: 'not json' }, 'cloud1')).toBeUndefined();
    expect(nodeIdFromMetadata({}, 'cloud1')).toBeUndefined();
  });

  it('of a sub-node names its primary node and itself', () => {
    const metadata = serverMetadata({ image: 'debian', provider: 'cloud1', nodeId: 42, subnodeId: 7, meta: {} });
    expect(JSON.parse(metadata.nodepool as string)).toEqual({ image_name: 'debian', provider_name: 'cloud1', node_id: 42, subnode_id: 7 });
    expect(nodeIdFromMetadata(metadata, 'cloud1')).toBe(42);
    expect(subnodeIdFromMetadata(metadata, 'cloud1')).toBe(7);
    expect(subnodeIdFromMetadata(serverMetadata({ image: 'd', provider: 'cloud1', nodeId: 1, meta: {} }), 'cloud1')).toBeUndefined();
  });

  it('cannot be overridden by the image meta', () => {
    const metadata = serverMetadata({ image: 'i', provider: 'p', nodeId: 1, meta: { nodepool: 'evil', groups: 'x' } });
    expect(nodeIdFromMetadata(metadata, 'p')).toBe(1);
    expect(metadata.groups).toBe('["i","p"]');
  });
});

describe('templates', () => {
  it('fill in the hostname of a node and the name of an upload', () => {
    expect(renderTemplate('{label.name}-{provider.name}-{node_id}', { label: 'small', provider: 'rax', nodeId: 7 })).toBe('small-rax-7');
    expect(renderTemplate('template-{image.name}-{timestamp}', { image: 'debian', timestamp: 1700000000 })).toBe('template-debian-1700000000');
    expect(renderTemplate('{label.name}.{unknown}', { label: 'x' })).toBe('x.{unknown}');
  });

  it('take the node name from the first dot component', () => {
    expect(nodeNameOf('small-rax-7.slave.example.org')).toBe('small-rax-7');
    expect(nodeNameOf('plain')).toBe('plain');
  });
});
