#!/usr/bin/env bash
# Download, HERE (where pip reaches a package index), the wheels that a GPU machine with no
# internet needs to run benchmarks/sweep.py (jaxrl and Rejax side by side) on its own JAX.
#
#   bash benchmarks/device/fetch_wheels.sh          # -> .whl/jaxrl/*.whl and .whl/rejax/*.whl (~25 MiB)
#
# Target: a CUDA image that already holds jax/jaxlib + the CUDA plugin, numpy, scipy, absl-py,
# etils, msgpack, tensorstore, matplotlib, seaborn, pillow, six, rich, toolz, typing-extensions on
# Python 3.12 (the image described in /work/.library/device/KINDS.md: jax 0.11.2, CUDA 13).
# It lacks MuJoCo, gymnax and the Rejax stack; flax, optax, chex and orbax are carried at the
# versions this kit was checked with (flax 0.12.12 is the first of the pinned line that runs on
# jax >= 0.11: flax 0.12.6 calls jax.core.get_opaque_trace_state, removed in jax 0.11).
#
# The two sets go to two folders because Rejax 0.1.3 needs gymnax 0.0.x and jaxrl gymnax 1.0.1;
# benchmarks/device/sweep_gpu.sh installs each into its own --target and runs each framework
# with its own PYTHONPATH. .whl/ is git-ignored; name it in the device tool's `carry`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pyver="${PYVER:-3.12}"

# Shared by both sides (pure Python).
common=(
  flax==0.12.12 optax==0.2.8 chex==0.1.92 orbax-checkpoint==0.12.8 orbax-export==0.0.8
  gymnasium==1.3.0 Farama-Notifications==0.0.6 treescope==0.1.10
)
# jaxrl: MuJoCo + MJX (imported by jaxrl.envs), the host side, gymnax 1.0.1 for CartPole-v1.
jaxrl=(
  mujoco==4.0.0 mujoco-core==4.0.0 mujoco-studio==4.0.0 glfw==2.11.0 PyOpenGL==3.1.10
  websockets==17.4 mujoco-mjx==3.17.0 trimesh==5.2.0 tensorboardX==2.6.5 gymnax==1.0.1
)
# Rejax 0.1.3 as benchmarks/peers/rejax-requirements.txt pins it (less jax/jaxlib: the image's).
rejax=(
  rejax==0.1.3 gymnax==0.0.9 distrax==0.1.9 tfp-nightly==0.26.0.dev20261027 dm-tree==0.1.10
  decorator==5.3.1 gast==0.7.0 dataclasses-json==0.6.7 marshmallow==3.26.2 typing-inspect==0.9.0
  mypy_extensions==1.2.0 tzdata==2026.6
)

fetch() {  # fetch DEST PKG...
  local dest="$1"; shift
  mkdir -p "$dest"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$pyver" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    -d "$dest" "$@"
}

rm -rf "$root/.whl/jaxrl" "$root/.whl/rejax"
fetch "$root/.whl/jaxrl" "${common[@]}" "${jaxrl[@]}"
fetch "$root/.whl/rejax" "${common[@]}" "${rejax[@]}"
du -sh "$root/.whl/jaxrl" "$root/.whl/rejax"
echo "carry .whl in the device run; there: bash benchmarks/device/sweep_gpu.sh --seeds 1,8,64,256,1024"
