/**
 * The comment of a node held after its job failed (the job's
 * `hold-on-failure`). A job's held nodes are found by it, as Nodepool 0.4
 * found them: nodepoold counts them against the job's count, and
 * `job-list` shows them.
 */
export const autoHoldComment = (job: string) => `Automatically held after failing ${job}`;
