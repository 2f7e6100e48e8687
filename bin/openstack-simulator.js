#!/usr/bin/env node
import '../dist/src/tools/openstack-simulator/main.js';
