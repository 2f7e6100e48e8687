// cli-input: bad ids, oversized and odd values refused with the documented
// exit code and no stack trace or SQL; quotes and SQL characters in job names
// round-trip unchanged. Run on each backend.
import { hasStackTrace, nodepool, withBackend } from './common.mjs';

/** Each refusal must give its exit code (2: a usage error, 1: a valid request that cannot be done). */
export async function cliInput(backend, short) {
  return withBackend(backend, async (configFile) => {
    const np = (...args) => nodepool(['-c', configFile, ...args]);
    const failures = { 'wrong exit': 0, 'stack trace or SQL': 0, 'not round-tripped': 0, hang: 0 };
    const note = (what, run, detail) => {
      failures[what] += 1;
      console.error(`cli-input [${backend}]: ${what}: ${detail}\n${(run?.stderr ?? '').slice(0, 400)}`);
    };
    const refusals = [
      [['hold', '-1'], 2], [['hold', '0'], 2], [['hold', 'abc'], 2], [['hold', '1.5'], 2], [['hold', '9007199254740993'], 2],
      [['hold', '99999999'], 1], [['delete', '99999999'], 1], [['delete', ''], 2], [['job-delete', '-3'], 2],
      [['job-create', 'x'.repeat(256)], 2], [['job-create', ''], 2], [['job-create', 'a\nb'], 2],
      [['job-create', 'n', '--hold-on-failure', '2147483648'], 2], [['job-create', 'n', '--hold-on-failure', '-1'], 2],
      [['hold', '1', '--reason', 'r'.repeat(70_000)], 2], [['image-delete', '--provider', 'p', '--image', 'i', '--upload-id', 'x', '--build-id', '1'], 2],
      [[], 2], [['frobnicate'], 2],
    ];
    let asked = 0;
    for (const [args, code] of refusals) {
      const run = await np(...args);
      asked += 1;
      if (run.hung) note('hang', run, args.join(' ').slice(0, 60));
      else if (run.code !== code) note('wrong exit', run, `${args.join(' ').slice(0, 60)}: exit ${run.code}, expected ${code}`);
      if (hasStackTrace(run.stderr) || /insert into|update `|select .* from/i.test(run.stderr)) note('stack trace or SQL', run, args.join(' ').slice(0, 60));
    }
    // Values with quotes and SQL characters come back exactly as given.
    const odd = ["it's", '"quoted"', 'x; DROP TABLE node; --', "a' OR '1'='1", 'back\\slash', '%_%', 'é😀 ümlaut', '`tick`', '$(echo no)', "tab\there"];
    const names = short ? odd.slice(0, 4) : odd;
    for (const [i, value] of names.entries()) {
      const name = `${value}-${i}`.replace(/\t/g, ' ');
      const created = await np('job-create', name, '--hold-on-failure', String(i));
      asked += 1;
      if (created.code !== 0) {
        note('wrong exit', created, `job-create ${JSON.stringify(name)}: exit ${created.code}`);
        continue;
      }
      const jobs = JSON.parse((await np('job-list', '--json')).stdout);
      const found = jobs.find((j) => j.name === name);
      if (!found || Number(found.hold_on_failure) !== i) note('not round-tripped', created, JSON.stringify(name));
    }
    const failed = Object.values(failures).reduce((a, b) => a + b, 0);
    return { scenario: 'cli-input', backend, commands: asked, failures, ok: failed === 0 };
  });
}
