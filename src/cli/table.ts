import Table from 'cli-table3';

/** Borders drawn like Python's PrettyTable, which upstream's tables used. */
const PRETTY_TABLE_CHARS = {
  top: '-', 'top-mid': '+', 'top-left': '+', 'top-right': '+',
  bottom: '-', 'bottom-mid': '+', 'bottom-left': '+', 'bottom-right': '+',
  left: '|', 'left-mid': '+', mid: '-', 'mid-mid': '+',
  right: '|', 'right-mid': '+', middle: '|',
};

export type Cell = string | number | null | undefined;

/** Aligned text with a header rule and no line between rows, as PrettyTable prints. */
export function renderTable(headers: readonly string[], rows: readonly Cell[][]): string {
  const table = new Table({
    head: [...headers],
    chars: PRETTY_TABLE_CHARS,
    style: { head: [], border: [], 'padding-left': 1, 'padding-right': 1 },
  });
  for (const row of rows) table.push(row.map((cell) => (cell === null || cell === undefined ? '' : String(cell))));
  const lines = table.toString().split('\n');
  // cli-table3 draws a rule between every row; PrettyTable only under the header.
  const rule = lines[0] ?? '';
  return lines.filter((line, index) => index <= 2 || index === lines.length - 1 || line !== rule).join('\n');
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
