/**
 * Maps a path in the parsed value (as zod and the cross-checks see it) back to
 * a line of the YAML source, so every problem can point at where to edit.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, visit } from 'yaml';
import type { Document, LineCounter, Node, Pair, YAMLMap } from 'yaml';

export type DataPath = readonly PropertyKey[];

export interface Located {
  /** Line of the deepest node found along the path (the key's line for a map entry). */
  line?: number;
  /** True when the whole path exists in the source. */
  found: boolean;
}

export class SourcePositions {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /**
   * For a missing key this gives the line of the mapping that should hold it,
   * which is where an operator would add it.
   */
  locate(path: DataPath): Located {
    let node = this.deref(this.doc.contents);
    let line = this.lineOfNode(node);
    for (const seg of path) {
      const step = this.child(node, seg);
      if (!step) return { line, found: false };
      line = this.lineOfNode(step.key ?? step.value) ?? line;
      node = this.deref(step.value);
    }
    return { line, found: true };
  }

  lineOf(path: DataPath): number | undefined {
    return this.locate(path).line;
  }

  /** 1-based line of a node's start. */
  lineOfNode(node: Node | null | undefined): number | undefined {
    const start = node?.range?.[0];
    return start === undefined ? undefined : this.lines.linePos(start).line;
  }

  private child(node: Node | null, seg: PropertyKey): { key?: Node; value: Node | null } | undefined {
    if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      return item === undefined ? undefined : { value: item as Node | null };
    }
    if (isMap(node)) {
      const pair = findPair(node, String(seg), (n) => this.deref(n));
      if (pair) return { key: pair.key as Node, value: pair.value as Node | null };
    }
    return undefined;
  }

  private deref(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return (node as Node | null | undefined) ?? null;
  }
}

/** The pair for `key`, the last one winning (as PyYAML and toJS do), then `<<` merge sources. */
function findPair(map: YAMLMap, key: string, deref: (n: unknown) => Node | null): Pair | undefined {
  let found: Pair | undefined;
  for (const pair of map.items) {
    if (isScalar(pair.key) && String(pair.key.value) === key) found = pair;
  }
  if (found) return found;
  for (const pair of map.items) {
    if (!isScalar(pair.key) || pair.key.value !== '<<') continue;
    const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
    for (const source of sources) {
      const target = deref(source);
      if (isMap(target)) {
        const inner = findPair(target, key, deref);
        if (inner) return inner;
      }
    }
  }
  return undefined;
}

export interface DuplicateKey {
  path: PropertyKey[];
  line?: number;
  firstLine?: number;
}

/**
 * PyYAML (which 0.4 used) silently keeps the last of two equal keys; we keep
 * that meaning but say so, because it is nearly always a mistake.
 */
export function findDuplicateKeys(doc: Document, positions: SourcePositions): DuplicateKey[] {
  const out: DuplicateKey[] = [];
  visit(doc, {
    Map(_key, map, ancestors) {
      const seen = new Map<string, Node>();
      for (const pair of map.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue;
        const name = String(pair.key.value);
        if (name === '<<') continue;
        const first = seen.get(name);
        if (first) {
          out.push({
            path: [...dataPathOf(ancestors, map), name],
            line: positions.lineOfNode(pair.key),
            firstLine: positions.lineOfNode(first),
          });
        } else {
          seen.set(name, pair.key);
        }
      }
    },
  });
  return out;
}

/** The data path of `node` from the chain of its YAML ancestors (as `visit` gives it). */
function dataPathOf(ancestors: readonly unknown[], node: unknown): PropertyKey[] {
  const chain = [...ancestors, node];
  const path: PropertyKey[] = [];
  for (let i = 0; i < chain.length - 1; i++) {
    const here = chain[i];
    const next = chain[i + 1];
    if (isPair(here) && isScalar(here.key)) path.push(String(here.key.value));
    else if (isSeq(here)) path.push(here.items.indexOf(next as never));
  }
  return path;
}
