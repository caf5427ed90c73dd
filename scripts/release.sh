#!/usr/bin/env bash
# The production artefact, one script for CI and the Dockerfile (there is no Docker engine on the
# development machines, so CI proves what the image does by running the same steps):
#
#   scripts/release.sh pack DEST          clean build, `npm pack` into DEST, and package-lock.json beside
#                                          the tarball; prints the tarball's path
#   scripts/release.sh install TGZ DIR    unpack TGZ into the empty folder DIR and `npm ci --omit=dev` there
#                                          with the lockfile beside TGZ: the production tree is exactly the
#                                          locked one that CI tested, audited and licence-checked
#   scripts/release.sh start DIR [ARGS]   run the installed `order-gateway` (default: serve)
#   scripts/release.sh check              all of it in a temp folder: pack, install, migrate,
#                                          create a key, serve, create an order with curl, stop
#
# `check` uses the embedded database in a temp DATA_DIR, or DATABASE_URL when it is set
# (then it creates and drops a database of its own on that server).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

pack() {
  local dest="$1"
  mkdir -p "$dest"
  (cd "$ROOT" && rm -rf dist && npm run -s build >&2)
  local name
  name="$(cd "$ROOT" && npm pack --silent --pack-destination "$dest" | tail -n 1)"
  # npm pack never packs package-lock.json; `install` needs it to install the locked versions.
  cp "$ROOT/package-lock.json" "$dest/package-lock.json"
  echo "$dest/$name"
}

# `npm install TGZ` would resolve the dependencies' ranges again and could install newer versions
# than the ones locked; `npm ci` in the unpacked package installs exactly the lockfile's. No
# install script runs (the production tree needs none; see allowScripts in package.json).
install() {
  local tarball="$1" dir="$2"
  local lock
  lock="$(dirname "$tarball")/package-lock.json"
  [ -f "$lock" ] || { echo "no package-lock.json beside $tarball (scripts/release.sh pack puts it there)" >&2; exit 1; }
  # Over an earlier install, files the new version no longer ships (a removed module, a renamed
  # migration) would stay and could still be loaded: only an empty or new folder is installed into.
  if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    echo "$dir is not empty: install into a new or empty folder (an older install's files would stay beside the new ones)" >&2
    exit 1
  fi
  mkdir -p "$dir"
  tar -xzf "$tarball" -C "$dir" --strip-components=1
  cp "$lock" "$dir/package-lock.json"
  (cd "$dir" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
}

start() {
  local dir="$1"
  shift
  exec node "$dir/bin/order-gateway.js" "${@:-serve}"
}

# Every production package of the lockfile is installed in DIR at its locked version.
as_locked() {
  node -e '
    const dir = process.argv[1];
    const packages = require(dir + "/package-lock.json").packages;
    let checked = 0, wrong = 0;
    for (const [where, locked] of Object.entries(packages)) {
      if (where === "" || locked.dev || locked.devOptional || locked.link) continue;
      let installed = "missing";
      try { installed = require(dir + "/" + where + "/package.json").version; } catch {}
      if (installed === "missing" && locked.optional) continue; // built for another platform
      checked++;
      if (installed !== locked.version) { wrong++; console.error(`${where}: ${installed}, locked ${locked.version}`); }
    }
    console.log(`${checked} production packages, ${wrong} not at their locked version`);
    process.exit(wrong === 0 && checked > 0 ? 0 : 1);
  ' "$1"
}

check() {
  local tmp
  tmp="$(mktemp -d)"
  server_pid="" dbname=""
  cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
    if [ -n "$dbname" ]; then psql "$DATABASE_URL" -qc "drop database if exists $dbname with (force)" >/dev/null 2>&1 || true; fi
    rm -rf "$tmp_for_cleanup"
  }
  trap cleanup EXIT
  tmp_for_cleanup="$tmp"

  echo "== pack"
  local tarball
  tarball="$(pack "$tmp/pkg")"
  echo "$tarball ($(du -h "$tarball" | cut -f1))"
  tar -tzf "$tarball" > "$tmp/contents"
  if grep -q '^package/src/' "$tmp/contents"; then echo "the package holds src/" >&2; exit 1; fi
  grep -q '^package/dist/cli/cli.js$' "$tmp/contents" || { echo "the package has no dist/cli/cli.js" >&2; exit 1; }

  echo "== install into an empty folder, production dependencies only"
  local started=$SECONDS
  install "$tarball" "$tmp/app"
  echo "installed in $((SECONDS - started)) s"
  if [ -d "$tmp/app/node_modules/typescript" ]; then echo "typescript was installed" >&2; exit 1; fi
  as_locked "$tmp/app"

  export NODE_ENV=production HOST=127.0.0.1 LOG_LEVEL=info ENV_FILE=none
  export METRICS_TOKEN="release-check-$(date +%s)-metrics-token"
  export PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  if [ -n "${DATABASE_URL:-}" ]; then
    dbname="og_release_$$"
    psql "$DATABASE_URL" -qc "create database $dbname"
    DATABASE_URL="$(node -e 'const u=new URL(process.argv[1]);u.pathname="/"+process.argv[2];console.log(u.toString())' "$DATABASE_URL" "$dbname")"
    export DATABASE_URL
  else
    export DATA_DIR="$tmp/data"
    mkdir -p "$DATA_DIR"
  fi

  echo "== migrate (the release step)"
  (cd "$tmp" && node "$tmp/app/bin/order-gateway.js" migrate)
  echo "== a key"
  local key
  key="$(cd "$tmp" && node "$tmp/app/bin/order-gateway.js" apikey create --workspace release --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).key))')"

  echo "== serve"
  (cd "$tmp" && exec "$ROOT/scripts/release.sh" start "$tmp/app" serve) > "$tmp/server.log" 2>&1 &
  server_pid=$!
  local ready=""
  for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$ready" ]; then cat "$tmp/server.log" >&2; echo "the server did not become ready" >&2; exit 1; fi

  echo "== create an order"
  local status
  status="$(curl -sS -o "$tmp/order.json" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/api/orders" \
    -H "authorization: Bearer $key" -H 'content-type: application/json' \
    -d '{"customer_id":"release-check","items":[{"product_id":"p1","quantity":2,"price":"10.50"}],"total":"21.00"}')"
  cat "$tmp/order.json"; echo
  [ "$status" = 201 ] || { echo "expected 201, got $status" >&2; cat "$tmp/server.log" >&2; exit 1; }
  grep -q '"order_number"' "$tmp/order.json"

  echo "== stop (SIGTERM)"
  kill -TERM "$server_pid"
  local code=0
  wait "$server_pid" || code=$?
  server_pid=""
  [ "$code" = 0 ] || { echo "serve exited with $code after SIGTERM" >&2; cat "$tmp/server.log" >&2; exit 1; }
  echo "release check passed"
}

command="${1:-}"
shift || true
case "$command" in
  pack) pack "$@" ;;
  install) install "$@" ;;
  start) start "$@" ;;
  check) check "$@" ;;
  *) echo "usage: $0 pack DEST | install TGZ DIR | start DIR [ARGS] | check" >&2; exit 2 ;;
esac
