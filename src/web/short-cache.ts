/**
 * One read shared by every request within a short time: a burst of
 * requests (a dashboard refreshing, a script polling in a loop) costs the
 * database one query instead of one each. A failed read is not kept, so the
 * next request tries again.
 */
export class ShortCache<T> {
  private kept: { at: number; value: T } | undefined;
  private pending: Promise<T> | undefined;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly keepMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<T> {
    if (this.kept && this.now() - this.kept.at < this.keepMs) return Promise.resolve(this.kept.value);
    this.pending ??= this.read()
      .then((value) => {
        this.kept = { at: this.now(), value };
        return value;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }
}
