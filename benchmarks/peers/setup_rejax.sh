#!/usr/bin/env bash
# Recreate the Rejax peer venv (.venv-rejax at the repo root) from benchmarks/peers/rejax-requirements.txt.
#
#   bash benchmarks/peers/setup_rejax.sh           # create it if missing (reuse an existing one)
#   bash benchmarks/peers/setup_rejax.sh --force   # delete and recreate it
#
# PYTHON=... picks the interpreter (default python3; the pinned set was made on Python 3.11.7:
# jax/jaxlib 0.9.2 is the newest safe jax on 3.11, see rejax-requirements.txt).
# The venv is separate from jaxrl's because Rejax 0.1.3 needs gymnax 0.0.x (jaxrl pins gymnax 1.0.1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv-rejax"
req="$here/rejax-requirements.txt"
python="${PYTHON:-python3}"

if [[ "${1:-}" == "--force" ]]; then
  rm -rf "$venv"
fi

pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [[ "$pyver" != "3.11" ]]; then
  echo "warning: $python is Python $pyver; rejax-requirements.txt was pinned on 3.11" >&2
fi

if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
# The file is a full freeze: --no-deps installs exactly it, with no re-resolution.
"$venv/bin/python" -m pip install --quiet --no-deps -r "$req"
"$venv/bin/python" -m pip check
"$venv/bin/python" - <<'EOF'
from importlib import metadata
import jax, rejax  # noqa: F401  (import smoke test)
print("rejax venv ok:", {d: metadata.version(d) for d in ("rejax", "jax", "jaxlib", "flax", "optax", "gymnax", "distrax")})
EOF
echo "run: $venv/bin/python benchmarks/peers/rejax_ppo.py --seeds 8 --repeats 3 --json out.json"
