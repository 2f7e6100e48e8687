import { describe, expect, it } from 'vitest';
import { formatAge, renderTable } from '../../src/listings/table.js';

describe('tables', () => {
  it('are drawn like PrettyTable: a rule above, under the header and below, none between rows', () => {
    expect(renderTable(['ID', 'Name'], [[1, 'first'], [22, null]])).toBe(
      ['+----+-------+', '| ID | Name  |', '+----+-------+', '| 1  | first |', '| 22 |       |', '+----+-------+'].join('\n'),
    );
  });

  it('align cells by the columns a terminal gives them: a wide character takes two', () => {
    expect(renderTable(['Comment'], [['見て'], ['ok']])).toBe(
      ['+---------+', '| Comment |', '+---------+', '| 見て    |', '| ok      |', '+---------+'].join('\n'),
    );
  });

  it('with no rows still show the header', () => {
    expect(renderTable(['ID'], [])).toBe(['+----+', '| ID |', '+----+'].join('\n'));
  });
});

describe('ages', () => {
  it('are DD:HH:MM:SS since the last state change', () => {
    const now = Date.UTC(2026, 0, 10, 12, 0, 0);
    expect(formatAge(now - (((2 * 24 + 3) * 60 + 4) * 60 + 5) * 1000, now)).toBe('02:03:04:05');
    expect(formatAge(now, now)).toBe('00:00:00:00');
    expect(formatAge(now + 5000, now)).toBe('00:00:00:00');
  });
});
