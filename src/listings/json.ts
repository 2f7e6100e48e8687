/** A listing's rows as `--json` prints them: indented, so a person can read it too and a script can parse it. */
export function jsonRows(rows: readonly unknown[]): string {
  return JSON.stringify(rows, null, 2);
}
