/**
 * `npm run bench:profile -- FILE.cpuprofile [--top N] [--per REQUESTS] [--callers REGEX]`: where a
 * `--cpu-prof` profile's time went, by self time, as issue 16 asks for "the
 * top items of each profile".
 *
 * Prints the busy time (everything but idle), then the places that spent the
 * most of it, grouped three ways: by package (a folder under node_modules,
 * Node's own modules, this repository's files, the garbage collector), by file,
 * and by function. With `--per`, each figure is also given in µs per request.
 * With `--callers`, it prints instead the call paths under which the functions
 * matching REGEX (`name file:line`) spent their time, to see who pays for them.
 *
 * A profile comes from `BENCH_CPU_PROF=DIR npm run bench` (the gateway writes
 * it there when it stops), or from `node --cpu-prof` on any process.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

/** The repository (this file is bench/profile.ts); settings.ts is not imported, so no BENCH_ variable is read. */
const ROOT = path.resolve(__dirname, '..');

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const NODE_MODULES = '/node_modules/';

/** A frame's URL as a file path (`file://…` decoded); `node:…` and empty URLs as they are. */
function filePath(url: string): string {
  return url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
}

/** The part of a path after its last `node_modules/` (a nested copy belongs to the innermost package). */
function insideNodeModules(file: string): string | undefined {
  const at = file.lastIndexOf(NODE_MODULES);
  return at < 0 ? undefined : file.slice(at + NODE_MODULES.length);
}

/** Which package a frame's code belongs to. */
export function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return `node:${url.slice('node:'.length).split('/')[0]}`;
  const file = filePath(url);
  const inside = insideNodeModules(file);
  if (inside !== undefined) {
    const [first, second] = inside.split('/');
    return first.startsWith('@') ? `${first}/${second}` : first;
  }
  return file.startsWith(`${ROOT}/`) ? 'order-gateway' : file;
}

/** A frame's file, shortened to the part after node_modules or the repository. */
export function fileOf(frame: CallFrame): string {
  if (!frame.url) return packageOf(frame);
  const file = filePath(frame.url);
  return insideNodeModules(file) ?? (file.startsWith(`${ROOT}/`) ? path.relative(ROOT, file) : file);
}

/** Whether a frame is V8's marker for time the thread waited (for I/O or a timer). */
const isIdle = (frame: CallFrame) => !frame.url && frame.functionName === '(idle)';

/** Self time in µs per profile node: each sample lasts until the next one. */
function timePerNode(profile: CpuProfile): Map<number, number> {
  const perNode = new Map<number, number>();
  for (let index = 0; index < profile.samples.length; index++) {
    const id = profile.samples[index];
    perNode.set(id, (perNode.get(id) ?? 0) + (profile.timeDeltas[index + 1] ?? 0));
  }
  return perNode;
}

/** A function as the listings name it: `name file:line`. */
export function frameLabel(frame: CallFrame): string {
  return `${frame.functionName || '(anonymous)'} ${fileOf(frame)}:${frame.lineNumber + 1}`;
}

/** Self time in µs per key; idle samples under `(idle)`, whatever the key. */
export function selfTimes(profile: CpuProfile, keyOf: (frame: CallFrame) => string): Map<string, number> {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const totals = new Map<string, number>();
  for (const [id, micros] of timePerNode(profile)) {
    const frame = frames.get(id);
    if (!frame) continue;
    const key = isIdle(frame) ? '(idle)' : keyOf(frame);
    totals.set(key, (totals.get(key) ?? 0) + micros);
  }
  return totals;
}

/**
 * The call paths (up to `depth` callers) under which frames matching `pattern`
 * spent their self time, heaviest first: which caller pays for a hot function.
 */
export function callPaths(profile: CpuProfile, pattern: RegExp, depth = 10): [string, number][] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const totals = new Map<string, number>();
  for (const [id, micros] of timePerNode(profile)) {
    const frame = byId.get(id)?.callFrame;
    if (!frame || micros === 0 || isIdle(frame) || !pattern.test(frameLabel(frame))) continue;
    const path = [frameLabel(frame)];
    for (
      let parent = parentOf.get(id);
      parent !== undefined && path.length <= depth;
      parent = parentOf.get(parent)
    ) {
      const caller = byId.get(parent)?.callFrame;
      if (caller) path.push(frameLabel(caller));
    }
    const key = path.join('\n      <- ');
    totals.set(key, (totals.get(key) ?? 0) + micros);
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '15' },
      per: { type: 'string' },
      callers: { type: 'string' },
    },
  });
  const top = Number(values.top);
  const per = values.per === undefined ? undefined : Number(values.per);
  if (positionals.length !== 1 || !Number.isInteger(top) || top < 1 || (per !== undefined && !(per > 0))) {
    process.stderr.write(
      'usage: npm run bench:profile -- FILE.cpuprofile [--top N] [--per REQUESTS] [--callers REGEX]\n',
    );
    process.exitCode = 2;
    return;
  }
  let profile: CpuProfile;
  try {
    profile = JSON.parse(fs.readFileSync(positionals[0], 'utf8')) as CpuProfile;
    if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples))
      throw new Error('no nodes or samples');
  } catch (error) {
    process.stderr.write(
      `bench:profile: ${positionals[0]} is not a readable .cpuprofile (${(error as Error).message})\n`,
    );
    process.exitCode = 1;
    return;
  }
  const byPackage = selfTimes(profile, packageOf);
  const idle = byPackage.get('(idle)') ?? 0;
  const busy = [...byPackage.values()].reduce((sum, value) => sum + value, 0) - idle;
  const line = (label: string, micros: number) =>
    `${(micros / 1000).toFixed(1).padStart(9)} ms ${((micros / busy) * 100).toFixed(1).padStart(5)} %` +
    `${per ? `${(micros / per).toFixed(1).padStart(8)} µs/request` : ''}  ${label}`;
  const section = (title: string, totals: Map<string, number>) => {
    const rows = [...totals].filter(([key]) => key !== '(idle)').sort((a, b) => b[1] - a[1]);
    process.stdout.write(
      `\n${title}\n${rows
        .slice(0, top)
        .map(([key, micros]) => line(key, micros))
        .join('\n')}\n`,
    );
  };
  process.stdout.write(
    `${line('busy (all but idle)', busy)}\n${(idle / 1000).toFixed(1).padStart(9)} ms idle\n`,
  );
  if (values.callers !== undefined) {
    const paths = callPaths(profile, new RegExp(values.callers)).slice(0, top);
    process.stdout.write(
      `\ncall paths of /${values.callers}/\n${paths.map(([key, micros]) => line(key, micros)).join('\n')}\n`,
    );
    return;
  }
  section('by package (self time)', byPackage);
  section('by file', selfTimes(profile, fileOf));
  section('by function', selfTimes(profile, frameLabel));
}

if (require.main === module) {
  // Piped into `head`, the reader may leave early: that is the end of the listing, not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(0);
  });
  main();
}
