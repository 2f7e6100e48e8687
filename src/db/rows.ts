/** Converting between snake_case rows and camelCase records. */

export type Row = Record<string, unknown>;

/** Milliseconds since the epoch; injected so tests can use a simulated clock. */
export type Clock = () => number;

/** Column name for each record field. */
export type ColumnMap<T> = { readonly [K in keyof T]-?: string };

/** Fields to a row, renaming through the map and leaving out undefined fields (knex would write NULL or DEFAULT). */
export function toRow<T>(columns: ColumnMap<T>, fields: Partial<T>): Row {
  const row: Row = {};
  for (const key of Object.keys(fields) as Array<keyof T & string>) {
    const value = fields[key];
    if (value !== undefined) row[columns[key]] = value;
  }
  return row;
}

/** The same fields with undefined ones removed, so spreading them never erases a value. */
export function defined<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Drivers may hand back numbers as strings (MySQL DECIMAL, BIGINT beyond 2^53): normalise. */
export function num(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n)) throw new TypeError(`expected a number from the database, got ${String(value)}`);
  return n;
}

export function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

export function str(value: unknown): string {
  return String(value);
}

export function strOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}
