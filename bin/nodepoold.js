#!/usr/bin/env -S node --max-semi-space-size=8
// A young generation of 2 x 8 MB rather than V8's 2 x 16 MB: a daemon's
// garbage is small and short-lived, and the difference is a fifth of its
// memory at a thousand nodes (docs/benchmarks.md, "Memory"). Run as
// `node bin/nodepoold.js`, the daemon works the same with V8's default.
import '../dist/src/cli/nodepoold.js';
