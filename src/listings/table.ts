import stringWidth from 'string-width';

export type Cell = string | number | null | undefined;

/** How many columns a cell takes on a terminal: its length, unless it holds wide or combining characters. */
function widthOf(text: string): number {
  return /^[\x20-\x7e]*$/.test(text) ? text.length : stringWidth(text);
}

/**
 * Aligned text drawn like Python's PrettyTable, which upstream's tables
 * used: a rule above, under the header and below, none between rows, one
 * space of padding. Linear in the cells (10,000 nodes in a few tens of
 * milliseconds); a general table library took seconds there, growing
 * faster than the rows.
 */
export function renderTable(headers: readonly string[], rows: readonly Cell[][]): string {
  const text = rows.map((row) => headers.map((_, i) => (row[i] === null || row[i] === undefined ? '' : String(row[i]))));
  const widths = headers.map((header, i) => text.reduce((max, row) => Math.max(max, widthOf(row[i] as string)), widthOf(header)));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const line = (cells: readonly string[]) => `| ${cells.map((cell, i) => cell + ' '.repeat((widths[i] as number) - widthOf(cell))).join(' | ')} |`;
  const out = [rule, line(headers), rule];
  for (const row of text) out.push(line(row));
  if (text.length > 0) out.push(rule);
  return out.join('\n');
}

/** `DD:HH:MM:SS` since `since` (ms epoch), as upstream printed ages. */
export function formatAge(since: number, now: number = Date.now()): string {
  let seconds = Math.max(0, Math.floor((now - since) / 1000));
  const days = Math.floor(seconds / 86400);
  seconds -= days * 86400;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  return [days, hours, minutes, seconds].map((part) => String(part).padStart(2, '0')).join(':');
}
