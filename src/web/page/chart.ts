/**
 * A machine's state chart as nested boxes: each state a box inside its
 * parent's, the regions of a parallel state side by side, the initial child
 * marked. Each box lists its transitions (event -> target); pointing at one
 * draws an arrow to its target box. Nested HTML rather than a laid-out graph:
 * the nesting is the chart's own structure, the browser lays it out, and a
 * machine of forty states stays readable without a layout engine.
 *
 * The current state path is lit (class `current`); a step of the timeline is
 * lit apart from it (class `step`), so the live state stays visible while
 * looking back.
 */
import { el } from './dom.js';

export interface Chart {
  id: string;
  root: StateNode;
}

export interface StateNode {
  key: string;
  /** Dotted, '' for the root. */
  path: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** The key of the initial child. */
  initial: string | null;
  transitions: { event: string; targets: string[] }[];
  children: StateNode[];
}

export interface ChartView {
  readonly element: HTMLElement;
  readonly chartId: string;
  /** Lights the boxes of a state value (`building.waitingForServer`; parallel leaves separated by commas). */
  light(state: string): void;
  /** Lights a state of the timeline apart from the current one; null clears it. */
  step(state: string | null): void;
}

export function drawChart(chart: Chart): ChartView {
  const boxes = new Map<string, HTMLElement>();
  // Parsed from markup, which puts it in SVG's namespace; its paths are made in the same one.
  const holder = document.createElement('div');
  holder.innerHTML = '<svg class="arrows" aria-hidden="true"><defs><marker id="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs></svg>';
  const arrows = holder.firstElementChild as SVGSVGElement;
  const svgNamespace = arrows.namespaceURI;
  const element = el('div', { class: 'chart', 'data-testid': 'chart', 'data-chart-id': chart.id });

  const showArrow = (from: HTMLElement, targets: string[]): void => {
    clearArrow();
    const origin = element.getBoundingClientRect();
    const start = from.getBoundingClientRect();
    for (const target of targets) {
      const box = boxes.get(target);
      if (!box) continue;
      box.classList.add('target');
      const end = box.getBoundingClientRect();
      const x1 = start.right - origin.left + element.scrollLeft;
      const y1 = start.top + start.height / 2 - origin.top + element.scrollTop;
      const x2 = end.left - origin.left + element.scrollLeft + Math.min(24, end.width / 2);
      const y2 = end.top - origin.top + element.scrollTop + 2;
      const bend = Math.max(40, Math.abs(x2 - x1) / 2);
      const path = document.createElementNS(svgNamespace, 'path');
      path.setAttribute('d', `M${x1},${y1} C${x1 + bend},${y1} ${x2},${y2 - bend} ${x2},${y2}`);
      path.setAttribute('marker-end', 'url(#arrowhead)');
      arrows.append(path);
    }
  };
  const clearArrow = (): void => {
    for (const path of arrows.querySelectorAll('path:not(marker path)')) path.remove();
    for (const box of element.querySelectorAll('.target')) box.classList.remove('target');
  };

  const drawState = (node: StateNode, parent: StateNode | null): HTMLElement => {
    const isInitial = parent !== null && parent.type !== 'parallel' && parent.initial === node.key;
    const box = el('div', {
      class: `state type-${node.type}${isInitial ? ' initial' : ''}${parent?.type === 'parallel' ? ' region' : ''}`,
      'data-testid': 'chart-state',
      'data-path': node.path,
      'data-type': node.type,
    });
    boxes.set(node.path, box);
    const title = el('div', { class: 'state-title' },
      isInitial ? el('span', { class: 'initial-mark', 'data-testid': 'chart-initial', title: 'initial state' }, '\u25B8') : null,
      el('span', { class: 'state-key' }, parent === null ? chart.id : node.key),
      node.type === 'atomic' || node.type === 'compound' ? null : el('span', { class: 'badge' }, node.type),
    );
    box.append(title);
    if (node.transitions.length > 0) {
      const list = el('ul', { class: 'transitions' });
      for (const transition of node.transitions) {
        const item = el('li', {
          'data-testid': 'chart-transition',
          'data-event': transition.event,
          'data-targets': transition.targets.join(' '),
        },
        el('span', { class: 'event' }, transition.event),
        ' \u2192 ',
        el('span', { class: 'targets' }, transition.targets.length === 0 ? '(stays)' : transition.targets.map((t) => shortTarget(t, node)).join(', ')));
        item.addEventListener('mouseenter', () => showArrow(item, transition.targets));
        item.addEventListener('mouseleave', clearArrow);
        list.append(item);
      }
      box.append(list);
    }
    if (node.children.length > 0) {
      const children = el('div', { class: node.type === 'parallel' ? 'children regions' : 'children' });
      for (const child of node.children) children.append(drawState(child, node));
      box.append(children);
    }
    return box;
  };

  element.append(drawState(chart.root, null), arrows);

  const lightClass = (name: string, state: string | null): void => {
    for (const box of element.querySelectorAll(`.${name}`)) box.classList.remove(name);
    if (state === null) return;
    for (const path of activePaths(state)) {
      // The root is always active: lit for a step it would tint the whole chart and hide the step.
      if (name === 'step' && path === '') continue;
      boxes.get(path)?.classList.add(name);
    }
  };
  return {
    element,
    chartId: chart.id,
    light: (state) => lightClass('current', state),
    step: (state) => lightClass('step', state),
  };
}

/** Every box a state value keeps active: the root, and each prefix of each leaf path. */
export function activePaths(state: string): string[] {
  const paths = new Set<string>(['']);
  for (const leaf of state.split(',').map((s) => s.trim()).filter(Boolean)) {
    const keys = leaf.split('.');
    for (let i = 1; i <= keys.length; i++) paths.add(keys.slice(0, i).join('.'));
  }
  return [...paths];
}

/** A sibling's target by its key alone; anything farther by its whole path. */
function shortTarget(target: string, from: StateNode): string {
  const parentPath = from.path.includes('.') ? from.path.slice(0, from.path.lastIndexOf('.')) : '';
  if (parentPath === '' && !target.includes('.')) return target;
  return target.startsWith(`${parentPath}.`) && !target.slice(parentPath.length + 1).includes('.')
    ? target.slice(parentPath.length + 1)
    : target;
}
