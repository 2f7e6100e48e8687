#!/usr/bin/env node
import '../dist/src/cli/nodepoold.js';
