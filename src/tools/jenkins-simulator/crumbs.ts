/**
 * CSRF protection: the crumb issuer's API (hudson.security.csrf.CrumbIssuer,
 * exported `crumb` and `crumbRequestField`) and the check CrumbFilter makes
 * on every POST (the crumb in a header of that name, or a form field).
 */
import type { IncomingMessage } from 'node:http';
import { HttpError, json } from './http-kit.js';
import type { Route } from './router.js';
import type { JenkinsState } from './state.js';

export function crumbRoutes(): Route[] {
  return [{
    method: 'GET',
    template: '/crumbIssuer/api/json',
    handle: ({ state, user }) => {
      // No crumb issuer configured: Stapler finds nothing at /crumbIssuer.
      if (!state.crumbsEnabled) throw new HttpError(404, 'Not Found');
      return json({ _class: 'hudson.security.csrf.DefaultCrumbIssuer', crumb: state.crumbFor(user), crumbRequestField: state.crumbRequestField });
    },
  }];
}

/** CrumbFilter.doFilter for a POST: refuses with 403 unless the request carries this user's current crumb. */
export function checkCrumb(state: JenkinsState, req: IncomingMessage, form: URLSearchParams, user: string, viaApiToken: boolean): void {
  if (!state.crumbsEnabled) return;
  if (viaApiToken && state.apiTokenSkipsCrumb) return;
  const header = req.headers[state.crumbRequestField.toLowerCase()];
  const crumb = (Array.isArray(header) ? header[0] : header) ?? form.get(state.crumbRequestField);
  if (crumb === undefined || crumb === null || crumb !== state.crumbFor(user)) {
    throw new HttpError(403, 'No valid crumb was included in the request');
  }
}
