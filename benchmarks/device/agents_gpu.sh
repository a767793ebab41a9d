#!/usr/bin/env bash
# Run ON a GPU machine with no internet, from the repo root, after benchmarks/device/fetch_wheels.sh
# filled .whl/ (carried along): what the world-model and pixel agents cost per agent step on that
# GPU, one run and a 16-run sweep (benchmarks/agent_speed.py), next to the published wall-clocks
# (TD-MPC2 1.5 h per 1M agent steps; DrQ-v2 2.8-4 h per 1M frames; DreamerV3 ~34 frames/s).
#
#   bash benchmarks/device/agents_gpu.sh                     # the paper presets below, seeds 1 then 16
#   bash benchmarks/device/agents_gpu.sh --case tdmpc:paper:cartpole_swingup --seeds 1,64
#
# With the device tool (10 minutes a command, 15 minutes of device time a session, the start
# included): one call, `timeout_s` 560; the default --budget-s 360 stops starting new pairs after
# 6 minutes, and every finished row is already in $OUT/agents_gpu.json. Each pair runs in a fresh
# process (compile seconds are cold). Replay buffers are 100k slots (--set buffer_size=100000, on
# every case) so 16 pixel runs fit in an H100's memory; the speed per agent step does not depend
# on it beyond the sampling gather.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/install.sh"
name="${AGENTS_NAME:-agents_gpu}"
install_side jaxrl
copy_tree

given() {  # given FLAG: the caller passed FLAG (as "FLAG VALUE" or "FLAG=VALUE")
  local a; for a in "${@:2}"; do [[ "$a" == "$1" || "$a" == "$1="* ]] && return 0; done; return 1
}
sets_buffer() {  # the caller set buffer_size (--set buffer_size=N or --set=buffer_size=N)
  local a prev=""; for a in "$@"; do
    [[ "$a" == "--set=buffer_size="* || ( "$prev" == "--set" && "$a" == "buffer_size="* ) ]] && return 0; prev="$a"
  done; return 1
}
args=("$@")
given --case "$@" || args+=(--case tdmpc:paper:cheetah_run:action_repeat=2
                            --case drq:paper:cheetah_run
                            --case dreamer:paper_s:cheetah_run:obs=pixels,image_size=64,action_repeat=2)
given --seeds "$@" || args+=(--seeds 1,16)
given --budget-s "$@" || args+=(--budget-s 360)
sets_buffer "$@" || args+=(--set buffer_size=100000)

export PYTHONUNBUFFERED=1
{
  echo "# $(date -u +%FT%TZ) benchmarks/device/agents_gpu.sh ${args[*]}"
  log_versions
  PYTHONPATH="$tmp/src:$tmp/site-jaxrl" "$py" "$root/benchmarks/agent_speed.py" --json "$out/$name.json" "${args[@]}"
} 2>&1 | tee "$out/$name.log"
