/**
 * Starting a job with parameters, as ParameterizedJobMixIn.doBuildWithParameters
 * and ParametersDefinitionProperty.buildWithParameters do (jenkinsci/jenkins):
 * only the job's defined parameters are taken (a missing one gets its
 * default), the item is queued, and the answer is 201 with the queue item as
 * Location, or 303 to the identical item already waiting in the queue.
 */
import { HttpError, redirect, type Reply } from './http-kit.js';
import type { RequestContext, Route } from './router.js';

export function jobRoutes(): Route[] {
  return [{ method: 'POST', template: '/job/{name}/buildWithParameters', handle: buildWithParameters }];
}

function buildWithParameters(ctx: RequestContext): Reply {
  const { state, params, form } = ctx;
  const job = state.jobs.get(params.name ?? '');
  if (!job) throw new HttpError(404, 'Not Found');
  if (!job.parameters) throw new HttpError(400, `${job.name} is not parameterized`);
  const values: Record<string, string> = {};
  for (const [name, defaultValue] of Object.entries(job.parameters)) values[name] = form.get(name) ?? defaultValue;
  const { build, created } = state.enqueue(job.name, values, ctx.user);
  return redirect(created ? 201 : 303, `${ctx.root}/queue/item/${build.queueId}/`);
}
