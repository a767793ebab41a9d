# Sourced by the benchmarks/device/*_gpu.sh scripts, ON a GPU machine with no internet, after
# benchmarks/device/fetch_wheels.sh filled .whl/ (carried along). Defines:
#   check_wheels NAME.. every .whl/NAME holds wheels (else a one-line error)
#   install_side NAME   pip-install .whl/NAME/*.whl into $tmp/site-NAME (no index, no deps)
#   copy_tree           jaxrl/, envs/ and algos/ as the installed package maps them, into $tmp/src
#   log_versions        nvidia-smi and jaxrl's side's versions and devices
# and sets root, py, out (the device tool's $OUT, else runs/device/) and tmp.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
py="${PYTHON:-python3}"
out="${OUT:-$root/runs/device}"
tmp="${JAXRL_DEVICE_TMP:-/tmp/jaxrl-device}"
mkdir -p "$out"

check_wheels() {  # check_wheels NAME...: every .whl/NAME holds wheels, before anything is installed
  local side; for side in "$@"; do
    ls "$root/.whl/$side/"*.whl >/dev/null 2>&1 || { echo "no wheels in .whl/$side: run benchmarks/device/fetch_wheels.sh where pip reaches an index, and carry .whl" >&2; return 2; }
  done
}

install_side() {
  check_wheels "$1" || return 2
  "$py" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$tmp/site-$1" "$root/.whl/$1/"*.whl
}

# The package layout of pyproject.toml's [tool.setuptools.package-dir] (jaxrl.envs = envs/, ...)
# as copies, without a build (the image's setuptools may predate pyproject's license field).
copy_tree() {
  rm -rf "$tmp/src" && mkdir -p "$tmp/src"
  "$py" - "$root" "$tmp/src" <<'PY'
import os, shutil, sys, tomllib
root, src = sys.argv[1:]
dirs = tomllib.load(open(os.path.join(root, "pyproject.toml"), "rb"))["tool"]["setuptools"]["package-dir"]
for package, folder in sorted(dirs.items(), key=lambda kv: kv[0].count(".")):  # parents first
    shutil.copytree(os.path.join(root, folder), os.path.join(src, *package.split(".")),
                    ignore=shutil.ignore_patterns("__pycache__"))
PY
}

log_versions() {
  (nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi")
  PYTHONPATH="$tmp/src:$tmp/site-jaxrl" "$py" - <<'PY'
import sys, jax
from importlib import metadata
v = {d: metadata.version(d) for d in ("jax", "jaxlib", "flax", "optax", "mujoco", "mujoco-mjx", "gymnax")}
print(f"python {sys.version.split()[0]}; jaxrl side: {v}; devices {jax.devices()}")
PY
}
