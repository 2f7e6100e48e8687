import { InvalidArgumentError } from 'commander';

/**
 * What the database can hold, checked before it is asked: both backends then
 * refuse the same input with the same one-line message (MariaDB would
 * refuse it with the whole statement, SQLite would store it).
 */
export const MAX_COUNT = 2_147_483_647;
export const MAX_NAME_LENGTH = 255;
export const MAX_REASON_LENGTH = 4096;

/** Node decodes bytes that are not UTF-8 to U+FFFD: such an argument was not valid UTF-8. */
function refuseBadUtf8(value: string): void {
  if (value.includes('\uFFFD')) throw new InvalidArgumentError('is not valid UTF-8');
}

/** A positive integer id from the command line, exactly as given; anything else is a usage error. */
export function parseId(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  // Past 2^53 a number is read as its neighbour: `hold 9007199254740993` would hold another node.
  if (!Number.isSafeInteger(Number(value))) throw new InvalidArgumentError(`'${value}' is too large to be an id`);
  return Number(value);
}

export function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number of 0 or more, got '${value}'`);
  if (Number(value) > MAX_COUNT) throw new InvalidArgumentError(`'${value}' is too large (at most ${MAX_COUNT})`);
  return Number(value);
}

/** A job's name: one line of 1 to 255 characters, as Jenkins names jobs. */
export function parseJobName(value: string): string {
  refuseBadUtf8(value);
  if (value.trim() === '') throw new InvalidArgumentError('must not be empty');
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new InvalidArgumentError('must be one line, without control characters');
  if (value.length > MAX_NAME_LENGTH) throw new InvalidArgumentError(`is ${value.length} characters long (at most ${MAX_NAME_LENGTH})`);
  return value;
}

/** A hold reason: free text, up to 4096 characters. */
export function parseReason(value: string): string {
  refuseBadUtf8(value);
  if (value.length > MAX_REASON_LENGTH) throw new InvalidArgumentError(`is ${value.length} characters long (at most ${MAX_REASON_LENGTH})`);
  return value;
}
