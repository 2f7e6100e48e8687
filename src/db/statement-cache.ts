/**
 * Prepared statements kept per SQLite connection. knex prepares the
 * statement of every query afresh, and preparing costs as much as running a
 * simple query: a burst of a thousand nodes spent a tenth of its time
 * preparing the same few dozen statements. The statements are kept by their
 * text, the least recently used dropped past a bound (a `where in` of each
 * length is a statement of its own).
 *
 * Safe because knex runs each statement to its end (`all` or `run`) before
 * the next query, on the one connection the pool holds; SQLite prepares a
 * statement again by itself when the schema changed under it.
 */

/** Statements kept per connection. */
export const STATEMENTS_KEPT = 256;

interface Preparing {
  prepare(source: string): unknown;
}

export function keepPreparedStatements(connection: Preparing, kept = STATEMENTS_KEPT): void {
  const prepare = connection.prepare.bind(connection);
  const statements = new Map<string, unknown>();
  connection.prepare = (source: string) => {
    let statement = statements.get(source);
    if (statement === undefined) {
      statement = prepare(source);
      if (statements.size >= kept) statements.delete(statements.keys().next().value as string);
    } else {
      statements.delete(source);
    }
    // Map order is insertion order: the statement moves to the newest end.
    statements.set(source, statement);
    return statement;
  };
}
