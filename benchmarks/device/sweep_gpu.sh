#!/usr/bin/env bash
# Run ON a GPU machine with no internet, from the repo root, after benchmarks/device/fetch_wheels.sh
# filled .whl/ (carried along): jaxrl vs Rejax sweeps (benchmarks/sweep.py) on the machine's own JAX.
#
#   bash benchmarks/device/sweep_gpu.sh --seeds 1,8,64 [--repeats 3] [any other benchmarks/sweep.py flag]
#
# With the device tool (10 minutes a command): one call for --seeds 1,8,64 and one for
# --seeds 256,1024 (`--repeats-small 5 --repeats 3`); each call installs the wheels again (~20 s).
# Output: $SWEEP_NAME.json and .log (default sweep_gpu) (nvidia-smi, versions, the table) in $OUT when set
# (the device tool), else runs/device/.
#
# jaxrl runs from the tree (jaxrl/, envs/ and algos/ mapped as the installed package maps them),
# with .whl/jaxrl on its path; Rejax runs in its own process with .whl/rejax (gymnax 0.0.9).
# Each process may take 45% of the GPU's memory (preallocated, the same for both frameworks).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/install.sh"
name="${SWEEP_NAME:-sweep_gpu}"
check_wheels jaxrl rejax
for side in jaxrl rejax; do install_side "$side"; done
copy_tree

cat > "$tmp/rejax-python" <<EOF
#!/usr/bin/env bash
PYTHONPATH="$tmp/site-rejax" exec "$py" "\$@"
EOF
chmod +x "$tmp/rejax-python"

export XLA_PYTHON_CLIENT_MEM_FRACTION="${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.45}" PYTHONUNBUFFERED=1
{
  echo "# $(date -u +%FT%TZ) benchmarks/device/sweep_gpu.sh $*"
  log_versions
  "$tmp/rejax-python" - <<'EOF'
import jax, rejax  # noqa: F401
from importlib import metadata
v = {d: metadata.version(d) for d in ("rejax", "jax", "jaxlib", "flax", "optax", "gymnax", "distrax")}
print(f"Rejax side: {v}; devices {jax.devices()}")
EOF
  PYTHONPATH="$tmp/src:$tmp/site-jaxrl" "$py" "$root/benchmarks/sweep.py" --rejax-python "$tmp/rejax-python" \
    --json "$out/$name.json" "$@"
} 2>&1 | tee "$out/$name.log"
