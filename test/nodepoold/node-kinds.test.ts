import { describe, expect, it } from 'vitest';
import { keepCommandedState } from '../../src/nodepoold/node-kinds.js';

describe('a node row written from its actor', () => {
  it('keeps a command’s delete until the actor deletes', () => {
    expect(keepCommandedState('delete', { state: 'ready' }).state).toBe('delete');
    expect(keepCommandedState('delete', { state: 'hold' }).state).toBe('delete');
    expect(keepCommandedState('delete', { state: 'delete' }).state).toBe('delete');
  });

  it('keeps a command’s hold unless the actor is deleting', () => {
    expect(keepCommandedState('hold', { state: 'ready' }).state).toBe('hold');
    expect(keepCommandedState('hold', { state: 'building' }).state).toBe('hold');
    expect(keepCommandedState('hold', { state: 'delete' }).state).toBe('delete');
  });

  it('follows the actor otherwise', () => {
    expect(keepCommandedState('building', { state: 'ready' }).state).toBe('ready');
    expect(keepCommandedState('ready', { state: 'used' }).state).toBe('used');
    expect(keepCommandedState('used', { state: 'hold' }).state).toBe('hold');
  });
});
