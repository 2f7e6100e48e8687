/**
 * How far V8 lets a daemon's heap grow past what it holds after a
 * collection. By default it grows by up to four times during a burst of
 * allocation (ten thousand nodes launched at once), and the process keeps
 * that memory: 540 MB at 10,000 nodes for some 80 MB that are live. Growing
 * by a fifth at a time keeps the peak near what is live, and is no slower
 * here: the heap the collector walks is smaller (docs/benchmarks.md,
 * "Memory"). An operator's own `--heap-growing-percent` wins.
 *
 * Imported first by the daemons' entry points, before anything allocates.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 20;

const chosen = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((arg) => arg.startsWith('--heap-growing-percent'));
if (!chosen) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
