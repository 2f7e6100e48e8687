/**
 * Resolves at the next turn of the event loop, after the timers and I/O
 * that are due. With SQLite every query is a promise that is already
 * settled, so a chain of them (a transaction of a hundred rows, a batch of
 * snapshots) runs start to end without letting a timer in: the ticks that
 * carry the time to the actors would wait for the whole burst. Long chains
 * wait for the next turn between their chunks.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
