import { InvalidArgumentError } from 'commander';

/** A positive integer id from the command line; anything else is a usage error. */
export function parseId(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return Number(value);
}

export function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number of 0 or more, got '${value}'`);
  return Number(value);
}
