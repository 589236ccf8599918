#!/usr/bin/env bash
# Build one cached virtual environment per Polar SDK generation.
#
# Both generations are published as the distribution `polar-sdk`, so they
# cannot share an environment. Each venv carries a marker file holding the
# pinned requirement it was built with; a re-run with the same pin is a no-op.
#
# Usage: scripts/compat-envs.sh [1.0|0.32 ...]   (default: all generations)
# The venvs are made with $KASSA_COMPAT_PYTHON (default: python3; needs >= 3.11).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${KASSA_COMPAT_CACHE:-$repo_root/.cache/compat}"
python_bin="${KASSA_COMPAT_PYTHON:-python3}"

declare -A pins=(
  ["1.0"]="polar-sdk==1.0.2"
  ["0.32"]="polar-sdk==0.32.0"
)

ensure_env() {
  local generation="$1"
  local spec="${pins[$generation]:-}"
  if [[ -z "$spec" ]]; then
    echo "compat-envs: unknown SDK generation '$generation' (expected: ${!pins[*]})" >&2
    return 2
  fi
  local venv="$cache_dir/polar-$generation"
  local marker="$venv/.kassa-compat-spec"
  if [[ -x "$venv/bin/python" && -f "$marker" && "$(cat "$marker")" == "$spec" ]]; then
    return 0
  fi
  echo "compat-envs: building $venv with $spec" >&2
  rm -rf "$venv"
  mkdir -p "$cache_dir"
  "$python_bin" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec"
  printf '%s' "$spec" >"$marker"
}

if [[ $# -eq 0 ]]; then
  set -- "1.0" "0.32"
fi
for generation in "$@"; do
  ensure_env "$generation"
done
