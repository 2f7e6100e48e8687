#!/usr/bin/env node
import '../dist/src/tools/ci-simulator/main.js';
