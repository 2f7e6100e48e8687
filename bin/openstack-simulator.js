#!/usr/bin/env node
import '../dist/src/openstack-sim/main.js';
