/**
 * Time as the actors and the simulated cloud see it. Compatible with XState's
 * clock (setTimeout/clearTimeout), plus `now()`; tests pass XState's
 * SimulatedClock (or anything with the same three methods) and move time
 * forward by hand, so no test sleeps.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
