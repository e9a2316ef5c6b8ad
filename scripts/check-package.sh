#!/usr/bin/env bash
# The package as a lab PC gets it, without the sources: `npm pack`, `npm install -g` of the
# tarball into a temporary prefix, then the installed `flowbus` run from an empty directory:
# --help and --version, `config example`, `simulate` on TCP with `scan` through it, and
# `serve --simulator` until /healthz answers, with its SQLite log in ./data, stopped by SIGTERM.
#
#   scripts/check-package.sh
#
# .ci/run runs it after `npm test`: installing takes one to three minutes (better-sqlite3 is
# compiled), too long for a test. Dependencies come from the npm cache the project's own install
# filled (--prefer-offline); the registry is asked only for package metadata.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
version=$(node -p "require('./package.json').version")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/flowbus-package-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "check-package: FAILED: $*" >&2
  exit 1
}
step() { echo "check-package: $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

t=$(now)
step "npm pack (prepack builds dist/)"
npm pack --pack-destination "$tmp" --loglevel=error >/dev/null
tgz="$tmp/flowbus-gateway-$version.tgz"
[ -f "$tgz" ] || fail "npm pack made no $tgz"
step "packed in $(since "$t"): $(du -k "$tgz" | cut -f1) kB"

t=$(now)
step "npm install -g --prefix <tmp> the tarball"
npm install -g --prefix "$tmp/prefix" --prefer-offline --no-audit --no-fund --loglevel=error "$tgz" >/dev/null
pkg="$tmp/prefix/lib/node_modules/flowbus-gateway"
bin="$tmp/prefix/bin/flowbus"
[ -x "$bin" ] || fail "no $bin after the install"
[ ! -e "$pkg/src" ] && [ ! -e "$pkg/test" ] || fail "the package holds the sources or tests: check \"files\" in package.json"
step "installed in $(since "$t")"

work="$tmp/work"
mkdir -p "$work"
cd "$work"

# Each output in full before looking at it (grep -q would close the pipe early).
out=$("$bin" --help) && grep -q '^Usage: flowbus' <<<"$out" || fail "flowbus --help"
[ "$("$bin" --version)" = "$version" ] || fail "flowbus --version is not $version"
"$bin" config example >example.yaml && grep -q '^buses:' example.yaml || fail "flowbus config example printed no config"
out=$("$bin" config check example.yaml) && grep -q ': ok' <<<"$out" || fail "flowbus config check of the example"
step "--help, --version, config example, config check: ok"

# Waits until FILE has a line matching REGEX, for at most SECONDS, while PID lives.
wait_for_line() {
  local file=$1 regex=$2 seconds=$3 pid=$4
  for _ in $(seq 1 $((seconds * 10))); do
    grep -Eq "$regex" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; fail "the process exited before printing /$regex/"; }
    sleep 0.1
  done
  cat "$file" >&2
  fail "no line /$regex/ in $seconds s"
}

"$bin" simulate --tcp 127.0.0.1:0 --nodes 3,5 >sim.out 2>&1 &
sim=$!
pids+=("$sim")
wait_for_line sim.out 'tcp: listening on 127\.0\.0\.1:[0-9]+' 60 "$sim"
simport=$(sed -nE 's/.*tcp: listening on 127\.0\.0\.1:([0-9]+).*/\1/p' sim.out | head -1)
"$bin" scan --port "tcp://127.0.0.1:$simport" --json | node -e '
  const found = JSON.parse(require("fs").readFileSync(0, "utf8"));
  if (found.map((f) => f.node).join() !== "3,5") { console.error(found); process.exit(1); }' || fail "scan through the simulator did not find nodes 3 and 5"
kill -INT "$sim"
wait "$sim" || true
step "simulate --tcp 127.0.0.1:0 and scan through it: ok"

httpport=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
t=$(now)
"$bin" serve --simulator --http-port "$httpport" --log-format json >serve.out 2>&1 &
srv=$!
pids+=("$srv")
ok=
for _ in $(seq 1 600); do
  if curl -sf "http://127.0.0.1:$httpport/healthz" >/dev/null; then ok=1; break; fi
  kill -0 "$srv" 2>/dev/null || break
  sleep 0.1
done
[ -n "$ok" ] || { cat serve.out >&2; fail "serve --simulator: /healthz did not answer"; }
step "serve --simulator: /healthz answered $(since "$t") after the start"
for _ in $(seq 1 300); do
  n=$(curl -sf "http://127.0.0.1:$httpport/api/v1/instruments" | node -e 'try { console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).instruments.filter((i) => i.online).length) } catch { console.log(0) }')
  [ "$n" = 3 ] && break
  sleep 0.1
done
[ "$n" = 3 ] || { cat serve.out >&2; fail "serve --simulator: not 3 instruments online"; }
# The package carries the built dashboard: / is its page, and the script it names is served.
page=$(curl -sf "http://127.0.0.1:$httpport/") || fail "serve --simulator: GET / did not answer 200 (is dist/dashboard/ in the package?)"
asset=$(printf '%s' "$page" | grep -o '/assets/index-[A-Za-z0-9_-]*\.js' | head -1)
[ -n "$asset" ] || fail "serve --simulator: GET / is not the dashboard page"
curl -sf -o /dev/null "http://127.0.0.1:$httpport$asset" || fail "serve --simulator: the dashboard's script $asset is not served"
step "serve --simulator: the dashboard is served ($asset)"
kill -TERM "$srv"
code=0
wait "$srv" || code=$?
[ "$code" = 0 ] || { cat serve.out >&2; fail "serve --simulator exited $code on SIGTERM"; }
grep -q '"msg":"store closed"' serve.out || fail "serve --simulator did not close its store"
[ -s data/flowbus.db ] || fail "no SQLite log at ./data/flowbus.db in the working directory"
step "serve --simulator: 3 instruments online, SQLite log in ./data, exit 0 on SIGTERM: ok"

cd "$root"
step "ok"
