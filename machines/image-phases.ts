/**
 * Builds and uploads move alike (queued, working, ready or failed,
 * deleting, removed): how their records and their builder read them. Each
 * machine exports its own names for these (`buildPhaseOf`, `uploadStateOf`).
 */
import { topStateOf } from './state-value.js';

/**
 * What a build's or an upload's record says for a machine state: the working
 * state (`building`, `uploading`) until it is ready or failed, `deleting`
 * from the first delete until the record goes.
 */
export function imageRecordStateOf<const TWorking extends string>(value: unknown, working: TWorking): TWorking | 'ready' | 'failed' | 'deleting' {
  const top = topStateOf(value);
  if (top === 'ready' || top === 'failed') return top;
  if (top === 'deleting' || top === 'removed') return 'deleting';
  return working;
}

/** Where a build or an upload actor is, as its builder reads it (it never names the machine's states itself). */
export function imagePhaseOf<const TWorking extends string>(
  snapshot: { value: unknown; status: string },
  working: TWorking,
): 'queued' | TWorking | 'ready' | 'failed' | 'deleting' | 'removed' {
  if (snapshot.status === 'done') return 'removed';
  const top = topStateOf(snapshot.value);
  return (['queued', working, 'ready', 'failed', 'deleting', 'removed'] as const).find((p) => p === top) ?? working;
}
