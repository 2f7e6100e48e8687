#!/usr/bin/env node
// The command line from its bundle (scripts/bundle-cli.mjs): a command starts in a fraction of the time.
import '../dist/cli-bundle/nodepool.js';
