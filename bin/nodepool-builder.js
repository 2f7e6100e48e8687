#!/usr/bin/env node
import '../dist/src/cli/nodepool-builder.js';
