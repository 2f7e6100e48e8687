/**
 * How the simulators' HTTP servers find the route of a request: paths
 * matched against templates with `{name}` placeholders, routes tried in
 * order (literal paths first), and a path that matches under another method
 * told apart from one that matches nothing (405 rather than 404).
 */

/** The path's placeholders, decoded; undefined when the path does not match (or a placeholder is not valid percent-encoding). */
export function matchTemplate(template: string, path: string): Record<string, string> | undefined {
  const want = template.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i += 1) {
    const w = want[i] ?? '';
    const g = got[i] ?? '';
    if (w.startsWith('{') && w.endsWith('}')) {
      if (g === '') return undefined;
      try {
        params[w.slice(1, -1)] = decodeURIComponent(g);
      } catch {
        return undefined;
      }
    } else if (w !== g) {
      return undefined;
    }
  }
  return params;
}

export type Match<R> =
  | { kind: 'route'; route: R; params: Record<string, string> }
  | { kind: 'method-not-allowed'; template: string }
  | { kind: 'none' };

/** The first route whose method and template match; routes are tried in order. */
export function findRoute<R extends { method: string; template: string }>(routes: readonly R[], method: string, path: string): Match<R> {
  let otherMethod: string | undefined;
  for (const route of routes) {
    const params = matchTemplate(route.template, path);
    if (!params) continue;
    if (route.method === method) return { kind: 'route', route, params };
    otherMethod ??= route.template;
  }
  return otherMethod ? { kind: 'method-not-allowed', template: otherMethod } : { kind: 'none' };
}
