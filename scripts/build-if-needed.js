#!/usr/bin/env node
'use strict';
/**
 * `prepare` and `prestart`: build dist/ with TypeScript only when it can and
 * must. A production install (`npm ci --omit=dev`, or the packed tarball) has
 * no TypeScript and no src/ to build from: then it does nothing. With
 * `--if-stale` (prestart), it builds only when a file under src/ is newer than
 * dist/, so `npm start` does not rebuild on every start.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const src = path.join(root, 'src');
const stamp = path.join(root, 'dist', 'cli', 'cli.js');

function newest(dir) {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs);
  }
  return latest;
}

let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
} catch {
  tsc = undefined;
}
if (!fs.existsSync(src) || !tsc) {
  if (!fs.existsSync(stamp)) process.stderr.write('order-gateway: no TypeScript here and no dist/ yet; install dev dependencies (npm ci) to build.\n');
  process.exit(0);
}
const config = path.join(root, 'tsconfig.build.json');
if (process.argv.includes('--if-stale') && fs.existsSync(stamp)) {
  const built = fs.statSync(stamp).mtimeMs;
  if (newest(src) <= built && fs.statSync(config).mtimeMs <= built) process.exit(0);
}
execFileSync(process.execPath, [tsc, '-p', config], { cwd: root, stdio: 'inherit' });
// tsc leaves an unchanged file's mtime alone; the stamp says when the build ran.
const now = new Date();
fs.utimesSync(stamp, now, now);
