/**
 * Times as a person reads them next to "now": "in 4m10s", "5m ago". An
 * explanation names deadlines and past moments this way because the
 * absolute time means little without a clock beside it; two units are
 * enough to act on (seconds do not matter once hours do).
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A span of time in its two largest units: "12s", "4m10s", "5m", "2h3m", "3d4h". */
export function durationText(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / SECOND);
  const span = seconds * SECOND;
  if (span < MINUTE) return `${seconds}s`;
  const [big, small, bigUnit, smallUnit] =
    span < HOUR
      ? [Math.floor(span / MINUTE), Math.floor((span % MINUTE) / SECOND), 'm', 's']
      : span < DAY
        ? [Math.floor(span / HOUR), Math.floor((span % HOUR) / MINUTE), 'h', 'm']
        : [Math.floor(span / DAY), Math.floor((span % DAY) / HOUR), 'd', 'h'];
  return small === 0 ? `${big}${bigUnit}` : `${big}${bigUnit}${small}${smallUnit}`;
}

/** An absolute time (ms epoch) seen from `now`: "in 4m10s", "5m ago", or "now" within half a second. */
export function relativeTime(ms: number, now: number): string {
  const diff = ms - now;
  if (Math.round(Math.abs(diff) / SECOND) === 0) return 'now';
  return diff > 0 ? `in ${durationText(diff)}` : `${durationText(diff)} ago`;
}
