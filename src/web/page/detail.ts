/**
 * One actor in full: where it is and since when, who owns it, why it is
 * there, its context, its chart with the current state lit, and its
 * timeline. Redrawn on every fetch; the chart's box is kept while the
 * machine is the same, so a refresh does not reflow the page, and a chosen
 * timeline step survives the refresh.
 */
import { drawChart, type Chart, type ChartView } from './chart.js';
import { age, el } from './dom.js';
import { drawTimeline, type TimelineEntry } from './timeline.js';

export interface ActorDetail {
  id: string;
  machine: string;
  state: string;
  since: number;
  owner: string | null;
  context: Record<string, unknown>;
  timeline: TimelineEntry[];
  why: string;
  chart: Chart;
}

export class DetailView {
  readonly element = el('main', { class: 'detail', 'data-testid': 'detail' });
  private chart: ChartView | null = null;
  private actorId: string | null = null;
  /** The chosen timeline step, null when live. */
  private step: number | null = null;

  showEmpty(): void {
    this.actorId = null;
    this.chart = null;
    this.element.replaceChildren(el('p', { class: 'empty' }, 'Choose an actor in the list to see its state chart, why it is where it is, and its history.'));
  }

  showError(id: string, message: string): void {
    this.element.replaceChildren(
      el('h2', {}, el('span', { class: 'mono' }, id)),
      el('p', { class: 'error', 'data-testid': 'detail-error' }, message));
    this.chart = null;
  }

  show(detail: ActorDetail): void {
    if (detail.id !== this.actorId) {
      this.actorId = detail.id;
      this.step = null;
    }
    if (!this.chart || this.chart.chartId !== detail.chart.id) this.chart = drawChart(detail.chart);
    const chart = this.chart;
    chart.light(detail.state);
    chart.step(null);
    const timeline = drawTimeline(detail.timeline, this.step, (index, entry) => {
      this.step = index;
      chart.step(entry ? entry.to : null);
    });
    const now = Date.now();
    this.element.replaceChildren(
      el('header', { class: 'detail-head' },
        el('h2', {}, el('span', { class: 'mono', 'data-testid': 'detail-id' }, detail.id), ' ', el('span', { class: 'machine' }, detail.machine)),
        el('dl', {},
          el('dt', {}, 'state'), el('dd', { class: 'mono current-state', 'data-testid': 'detail-state' }, detail.state),
          el('dt', {}, 'since'), el('dd', { title: new Date(detail.since).toISOString() }, `${new Date(detail.since).toLocaleTimeString()} (${age(now - detail.since)})`),
          el('dt', {}, 'owner'), el('dd', { class: 'mono' }, detail.owner ?? '\u2014'))),
      el('p', { class: 'why', 'data-testid': 'why' }, detail.why),
      el('div', { class: 'detail-body' },
        el('section', { class: 'chart-panel' }, el('h3', {}, 'state chart'), chart.element),
        el('section', { class: 'context-panel' }, el('h3', {}, 'context'), context(detail.context))),
      el('h3', {}, 'timeline'),
      timeline.element,
    );
  }
}

function context(values: Record<string, unknown>): HTMLElement {
  const entries = Object.entries(values);
  if (entries.length === 0) return el('p', { class: 'empty' }, 'empty');
  return el('table', { class: 'context', 'data-testid': 'context' },
    el('tbody', {}, ...entries.map(([key, value]) => el('tr', {},
      el('th', { class: 'mono' }, key),
      el('td', { class: 'mono' }, value === null || value === undefined ? '\u2014' : typeof value === 'object' ? JSON.stringify(value) : String(value))))));
}
