/** A promise the test settles by hand, so effects finish exactly when a story says. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets settled promises run their continuations (effects finishing, actors moving on). */
export const flush = () => new Promise((resolve) => setImmediate(resolve));
