import { expect, it } from 'vitest';
import { compareActorIds, isDaemonLongActor, parseActorId } from '../../machines/actor-ids.js';

it('orders actor ids naturally: node-9 before node-10, kinds by name', () => {
  expect(['node-10', 'node-9', 'build-2', 'node-100', 'build-10'].sort(compareActorIds)).toEqual(['build-2', 'build-10', 'node-9', 'node-10', 'node-100']);
});

it('knows the actors that live as long as their daemon', () => {
  expect(['pool', 'builder', 'provider-rax', 'node-1', 'orphan-x', 'build-2'].filter(isDaemonLongActor)).toEqual(['pool', 'builder', 'provider-rax']);
  expect(parseActorId('provider-rax')).toEqual({ kind: 'provider', id: 'rax' });
});
