/** Cron lines as the 0.4 daemons read them: five fields, standard syntax. */
import { CronExpressionParser } from 'cron-parser';

/** Undefined when `expr` is a valid five-field cron line, otherwise why not. */
export function cronProblem(expr: string): string | undefined {
  const fields = expr.trim().split(/\s+/).filter((f) => f !== '');
  // cron-parser also takes six fields (seconds first) and fewer than five;
  // Nodepool's cron lines always had exactly five.
  if (fields.length !== 5) {
    return `invalid cron expression '${expr}': expected 5 fields (minute hour day month weekday), found ${fields.length}`;
  }
  try {
    CronExpressionParser.parse(expr);
    return undefined;
  } catch (err) {
    return `invalid cron expression '${expr}': ${(err as Error).message}`;
  }
}
