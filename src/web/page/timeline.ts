/**
 * An actor's transitions as a table, with a step-through: the previous and
 * next buttons, the slider and a click on a row choose a step, whose state
 * (`to`) the chart lights. "Live" leaves the step-through: the chart shows
 * only the current state again.
 */
import { age, el } from './dom.js';

export interface TimelineEntry {
  at: number;
  event: string;
  from: string | null;
  to: string;
  reason: string | null;
}

export interface TimelineView {
  readonly element: HTMLElement;
}

/**
 * `step` is the chosen step's index, or null when live; `onStep` hears every
 * choice (the caller lights the chart and keeps the step across refreshes).
 */
export function drawTimeline(
  entries: readonly TimelineEntry[],
  step: number | null,
  onStep: (index: number | null, entry: TimelineEntry | null) => void,
): TimelineView {
  // Oldest first: the step-through walks forward in time.
  const sorted = entries.map((entry, i) => ({ entry, i })).sort((a, b) => a.entry.at - b.entry.at || a.i - b.i).map(({ entry }) => entry);
  const last = sorted.length - 1;
  let chosen = step === null ? null : Math.min(step, last);

  const prev = el('button', { type: 'button', 'data-testid': 'timeline-prev', title: 'previous step' }, '\u25C0 prev');
  const next = el('button', { type: 'button', 'data-testid': 'timeline-next', title: 'next step' }, 'next \u25B6');
  const live = el('button', { type: 'button', 'data-testid': 'timeline-live', title: 'show the current state only' }, 'live');
  const slider = el('input', { type: 'range', min: 0, max: Math.max(0, last), step: 1, 'data-testid': 'timeline-slider', 'aria-label': 'step' });
  const position = el('span', { class: 'position', 'data-testid': 'timeline-position' });
  const body = el('tbody');
  const now = Date.now();
  const rows = sorted.map((entry, index) => {
    const row = el('tr', { 'data-testid': 'timeline-row', 'data-step': index },
      el('td', { class: 'num' }, String(index + 1)),
      el('td', { title: new Date(entry.at).toISOString() }, `${new Date(entry.at).toLocaleTimeString()} (${age(now - entry.at)} ago)`),
      el('td', { class: 'mono' }, entry.event),
      el('td', { class: 'mono' }, entry.from ?? '\u2014'),
      el('td', { class: 'mono' }, entry.to),
      el('td', {}, entry.reason ?? ''),
    );
    row.addEventListener('click', () => choose(index));
    body.append(row);
    return row;
  });

  const show = (): void => {
    for (const [index, row] of rows.entries()) row.classList.toggle('selected', index === chosen);
    slider.value = String(chosen ?? last);
    slider.disabled = sorted.length === 0;
    prev.disabled = sorted.length === 0 || chosen === 0;
    next.disabled = chosen === null || chosen >= last;
    live.disabled = chosen === null;
    position.textContent = sorted.length === 0 ? 'no transitions' : chosen === null ? `live (${sorted.length} steps)` : `step ${chosen + 1} of ${sorted.length}`;
  };
  const choose = (index: number | null): void => {
    chosen = index === null || sorted.length === 0 ? null : Math.max(0, Math.min(index, last));
    show();
    onStep(chosen, chosen === null ? null : (sorted[chosen] ?? null));
    if (chosen !== null) rows[chosen]?.scrollIntoView({ block: 'nearest' });
  };
  // Stepping back from live starts at the step before the current state, which is the last one.
  prev.addEventListener('click', () => choose(chosen === null ? last - 1 : chosen - 1));
  next.addEventListener('click', () => choose(chosen === null ? null : chosen + 1));
  live.addEventListener('click', () => choose(null));
  slider.addEventListener('input', () => choose(Number(slider.value)));
  show();
  // A refresh keeps the chosen step: the new chart is lit for it at once.
  if (chosen !== null) onStep(chosen, sorted[chosen] ?? null);

  const element = el('section', { class: 'timeline', 'data-testid': 'timeline' },
    el('div', { class: 'stepper' }, prev, slider, next, live, position),
    el('div', { class: 'table-scroll' },
      el('table', {},
        el('thead', {}, el('tr', {}, ...['#', 'at', 'event', 'from', 'to', 'reason'].map((h) => el('th', {}, h)))),
        body)),
  );
  return { element };
}
