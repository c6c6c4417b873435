#!/usr/bin/env bash
# Sets up a fresh machine for Stadsmodel: a Python ≥ 3.12 virtualenv in .venv with the project
# installed, and the viewer's npm packages. With --test also the Debian packages the test suite
# drives for real (PostgreSQL + PostGIS, Chromium). Idempotent: re-running is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

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
  echo "setup: creating .venv with $($py --version)"
  "$py" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
stamp=.venv/.stadsmodel-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages"
  .venv/bin/pip install -q -e '.[test]'
  touch "$stamp"
fi

if [ -f package.json ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.stamp ]; then
    echo "setup: installing npm packages (CesiumJS, test tools)"
    npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp
  fi
fi

if [ "$want_test" = 1 ]; then
  need=()
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
  ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=(postgis)
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "setup: installing Debian packages: ${need[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
      echo "setup: missing Debian packages ${need[*]}: install them (sudo apt-get install ${need[*]}); tests needing them will skip" >&2
    fi
  fi
fi
