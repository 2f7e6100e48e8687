/** The benchmarks' plain-text tables: columns padded to their widest cell, a rule under the header. */

/** A figure as a cell: fixed digits for numbers, '—' for none. */
export const fmt = (v, digits = 2) => (v === undefined || v === null || Number.isNaN(v) ? '—' : typeof v === 'number' ? v.toFixed(digits) : String(v));

export function printTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log();
}
