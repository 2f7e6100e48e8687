import type { EffectError, FailureReason } from '../../machines/node.machine.js';

/** An effect failure the node machine can classify (launch failures are counted by reason). */
export class NodeEffectError extends Error implements EffectError {
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'NodeEffectError';
  }
}

const REASONS: readonly FailureReason[] = ['timeout', 'status', 'network', 'auth', 'other'];

/** Any error as a NodeEffectError: its own reason when it carries a known one, else `fallback`. */
export function asNodeError(err: unknown, fallback: FailureReason): NodeEffectError {
  if (err instanceof NodeEffectError) return err;
  const reason = (err as { reason?: unknown } | null)?.reason;
  return new NodeEffectError(REASONS.includes(reason as FailureReason) ? (reason as FailureReason) : fallback, err instanceof Error ? err.message : String(err));
}
