#!/usr/bin/env bash
# Create the MuJoCo Playground peer venv (.venv-playground at the repo root) for benchmarks/envs.py.
#
#   bash benchmarks/peers/setup_playground.sh           # create it if missing (reuse an existing one)
#   bash benchmarks/peers/setup_playground.sh --force   # delete and recreate it
#
# Playground 0.2.0 from the registry, with jax/jaxlib/mujoco/mujoco-mjx pinned to jaxrl's own
# versions so that both sides of the comparison run the same compiler and physics engine.
# It lives apart from jaxrl's venv because it pulls warp-lang, mediapy, ipython and more.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv-playground"
python="${PYTHON:-python3}"

if [[ "${1:-}" == "--force" ]]; then
  rm -rf "$venv"
fi
if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "playground==0.2.0" "jax==0.9.2" "jaxlib==0.9.2" \
  "mujoco==4.0.0" "mujoco-mjx==3.17.0" "flax==0.12.6"
"$venv/bin/python" - <<'PY'
from importlib import metadata
import mujoco_playground  # noqa: F401  (import smoke test)
print("playground venv ok:", {d: metadata.version(d) for d in ("playground", "jax", "jaxlib", "mujoco", "mujoco-mjx")})
PY
echo "run: python benchmarks/envs.py --playground $venv/bin/python --json benchmarks/results/envs.json"
