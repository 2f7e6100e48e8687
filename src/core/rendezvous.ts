/**
 * Rendezvous (highest random weight) hashing: each key goes to the
 * candidate whose hash with the key is highest. Every process computes the
 * same owner from the same list of candidates, keys spread evenly, and a
 * candidate that joins or leaves moves only the keys it wins or held; the
 * others stay where they are (docs/scaling.md).
 */
import { createHash } from 'node:crypto';

function weight(key: string, candidate: string): bigint {
  return createHash('sha256').update(key).update('\0').update(candidate).digest().readBigUInt64BE(0);
}

/** The candidate that `key` goes to; undefined when there is none. Ties (never in practice) go to the smaller name. */
export function rendezvousOwner(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1n;
  for (const candidate of candidates) {
    const w = weight(key, candidate);
    if (w > bestWeight || (w === bestWeight && best !== undefined && candidate < best)) {
      best = candidate;
      bestWeight = w;
    }
  }
  return best;
}
