#!/usr/bin/env bash
# Sets up a fresh machine for Stadsmodel: a Python >= 3.12 virtualenv in .venv with the project installed,
# and the viewer's npm packages. With --test also what the test suite drives for real, each one PROVEN to
# work (not guessed from a file being present):
#   - PostgreSQL + PostGIS: Debian postgresql-<major>-postgis-3 for the installed server's major (and
#     `postgresql` first when no server is installed); proven by a scratch cluster that runs CREATE EXTENSION;
#   - Chromium (Debian chromium): proven by a headless --dump-dom of a page;
#   - Node + the Khronos glTF validator (npm gltf-validator): proven by validating nothing;
#   - ogctests in its own virtualenv .venv-ogctests (its pins clash with .venv), so tests run offline.
# With CI=true a tier that cannot be proven stops setup with the reason; elsewhere it is a warning (the
# tests that need it skip, saying why). Idempotent: re-running installs nothing new and proves in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0 want_bench=0
[ "${1:-}" = "--test" ] && want_test=1
[ "${1:-}" = "--bench" ] && want_bench=1
in_ci=0
[ "${CI:-}" = "true" ] && in_ci=1

say() { echo "setup: $*"; }

# A Python >= 3.12 that really runs (pyenv shims exist for versions that are not selected, so test each).
find_python() {
  local cands=("${STADSMODEL_PYTHON:-}" python3.12 python3.13)
  if command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[2-9]' | sort -V); do
      cands+=("$(pyenv root)/versions/$v/bin/python3")
    done
  fi
  cands+=(python3)
  for cand in "${cands[@]}"; do
    [ -n "$cand" ] || continue
    if "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
      echo "$cand"; return
    fi
  done
  echo "error: Python >= 3.12 not found (set STADSMODEL_PYTHON to its path)" >&2
  exit 1
}

if [ ! -x .venv/bin/python ]; then
  py=$(find_python)
  say "creating .venv with $($py --version)"
  "$py" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
stamp=.venv/.stadsmodel-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing Python packages into .venv (minutes on a fresh machine)"
  .venv/bin/pip install -q -e '.[test]'
  touch "$stamp"
fi

if [ -f package.json ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.stamp ]; then
    say "installing npm packages (CesiumJS, test tools)"
    npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp
  fi
fi

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "setup: not root, cannot install Debian packages $*: run  sudo apt-get install $*" >&2
    return 1
  fi
  if [ "$apt_updated" = 0 ]; then
    say "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  say "installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --bench: SpatiaLite for pygeoapi's stock GeoPackage provider, which bench/api_load.py runs beside ours
# (with pysqlite3-binary from the test extra, in a process of its own).
if [ "$want_bench" = 1 ]; then
  if ! .venv/bin/python -c 'import pysqlite3; c = pysqlite3.connect(":memory:"); c.enable_load_extension(True); c.load_extension("mod_spatialite")' 2>/dev/null; then
    apt_install libsqlite3-mod-spatialite || echo "setup: without SpatiaLite the stock-provider column of bench/api_load.py is skipped" >&2
  fi
  exit 0
fi
[ "$want_test" = 1 ] || exit 0

# ---------------------------------------------------------------- test tiers

unproven=()
# A tier that could not be proven: stop in CI, warn elsewhere.
tier_missing() {
  unproven+=("$1")
  echo "setup: NOT WORKING: $1" >&2
}

# The PostgreSQL server's bin directory and Chromium (and a free port): scripts/tools.py, as the tests use them.
find_tool() { .venv/bin/python scripts/tools.py "$1" || true; }

# Start a scratch cluster (as `postgres` when root), CREATE EXTENSION postgis, stop it, remove it.
prove_postgis() {
  local bin=$1 dir port run=() ok=1
  dir=$(mktemp -d /tmp/stadsmodel-setup-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$dir"
    run=(runuser -u postgres --)
  fi
  port=$(.venv/bin/python scripts/tools.py free-port)
  if ! "${run[@]}" "$bin/initdb" -D "$dir/data" --auth=trust -U postgres --encoding=UTF8 --locale=C \
       >"$dir/initdb.log" 2>&1; then
    echo "setup: initdb failed: $(tail -n 5 "$dir/initdb.log")" >&2; ok=0
  elif ! "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -w -t 60 -l "$dir/server.log" \
         -o "-p $port -c listen_addresses= -c unix_socket_directories=$dir -c fsync=off" start >/dev/null 2>&1; then
    echo "setup: PostgreSQL did not start: $(tail -n 5 "$dir/server.log" 2>/dev/null)" >&2; ok=0
  else
    local psql="$bin/psql"
    [ -x "$psql" ] || psql=psql
    if ! out=$("${run[@]}" "$psql" -X -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
               -tAc 'CREATE EXTENSION postgis; SELECT postgis_full_version()' 2>&1); then
      echo "setup: CREATE EXTENSION postgis failed: $out" >&2; ok=0
    fi
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  [ "$ok" = 1 ]
}

pg_major() { "$1/postgres" --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/'; }  # 'postgres (PostgreSQL) 15.18 (Debian …)'

bin=$(find_tool pg-bindir)
if [ -z "$bin" ]; then
  say "no PostgreSQL server installed"
  apt_install postgresql || true
  bin=$(find_tool pg-bindir)
fi
if [ -z "$bin" ]; then
  tier_missing "PostgreSQL server (Debian: apt-get install postgresql postgresql-<major>-postgis-3)"
else
  major=$(pg_major "$bin")
  if prove_postgis "$bin"; then
    say "PostgreSQL $major + PostGIS works ($bin)"
  elif apt_install "postgresql-$major-postgis-3" && prove_postgis "$bin"; then
    say "PostgreSQL $major + PostGIS works ($bin)"
  else
    tier_missing "PostGIS for PostgreSQL $major (Debian: apt-get install postgresql-$major-postgis-3)"
  fi
fi

# Chromium: STADSMODEL_CHROMIUM, when set, is taken as given (a wrong override is reported, not guessed around).
prove_chromium() {
  local out
  out=$(timeout 120 "$1" --headless --no-sandbox --disable-gpu --disable-background-networking \
          --disable-component-update --no-first-run --disable-sync \
          --dump-dom 'data:text/html,<p id=stadsmodel>ok</p>' 2>/dev/null) || true
  [[ "$out" == *'<p id="stadsmodel">ok</p>'* ]]
}
chromium=$(find_tool chromium)
if [ -z "$chromium" ] && [ -z "${STADSMODEL_CHROMIUM:-}" ]; then
  apt_install chromium || true
  chromium=$(find_tool chromium)
fi
if [ -n "$chromium" ] && prove_chromium "$chromium"; then
  say "Chromium works ($chromium)"
else
  tier_missing "Chromium${chromium:+ at $chromium}${STADSMODEL_CHROMIUM:+ (STADSMODEL_CHROMIUM=$STADSMODEL_CHROMIUM)} (Debian: apt-get install chromium; or set STADSMODEL_CHROMIUM)"
fi

# Node + Khronos glTF validator: a minimal valid glTF must validate with 0 errors.
prove_gltf_validator() {
  command -v node >/dev/null 2>&1 || return 1
  [ "$(node -e 'require("gltf-validator").validateString(JSON.stringify({asset: {version: "2.0"}}))
                  .then(r => console.log("errors=" + r.issues.numErrors))' 2>/dev/null)" = "errors=0" ]
}
if prove_gltf_validator; then
  say "Node $(node --version) + Khronos glTF validator work"
else
  tier_missing "Node.js + npm gltf-validator (Debian: apt-get install nodejs npm; then npm ci)"
fi

# ogctests (OGC conformance suites) in its own venv; the pinned requirement lives in one file.
ogc_req=scripts/ogctests-requirements.txt
ogc_stamp=.venv-ogctests/.installed
if [ ! -x .venv-ogctests/bin/python ] || ! cmp -s "$ogc_req" "$ogc_stamp"; then
  say "installing $(grep -v '^#' "$ogc_req") into .venv-ogctests"
  rm -rf .venv-ogctests
  .venv/bin/python -m venv .venv-ogctests
  .venv-ogctests/bin/python -m pip install -q --disable-pip-version-check -r "$ogc_req" && cp "$ogc_req" "$ogc_stamp"
fi
if .venv-ogctests/bin/python -c 'import ogctests' 2>/dev/null && cmp -s "$ogc_req" "$ogc_stamp"; then
  say "ogctests works (.venv-ogctests)"
else
  tier_missing "ogctests in .venv-ogctests (pip install -r $ogc_req)"
fi

if [ ${#unproven[@]} -gt 0 ]; then
  if [ "$in_ci" = 1 ]; then
    echo "setup: FAILED (CI=true): these test tiers do not work: ${unproven[*]}" >&2
    exit 1
  fi
  echo "setup: warning: the tests needing these tiers will skip: ${unproven[*]}" >&2
fi
