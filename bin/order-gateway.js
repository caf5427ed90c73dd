#!/usr/bin/env node
'use strict';
// Runs the compiled CLI. `npm ci` builds it (the `prepare` script); `npm run build` rebuilds it.
const path = require('node:path');
const fs = require('node:fs');

const entry = path.join(__dirname, '..', 'dist', 'cli', 'cli.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('order-gateway: not built yet; run `npm run build` (a full `npm ci` does it for you; `npm ci --omit=dev` installs no TypeScript to build with).\n');
  process.exit(1);
}
require(entry).runCli(process.argv);
