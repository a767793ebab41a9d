B=/work/main/benchmarks/compile_breakdown.py
PY=/work/main/.venv/bin/python
export JAXRL_COMPILATION_CACHE=off
for r in 1 2 3; do
 for c in bare env chunk; do echo "$r cart $c $($PY $B --component $c --env cartpole_balance --env-options '{"physics":"fast"}' 2>/dev/null | tail -1)"; done
 echo "$r probe chunk $($PY $B --component chunk --env probe_obs_reward --env-options '{"continuous":true}' 2>/dev/null | tail -1)"
 echo "$r probe init $($PY $B --component init --env probe_obs_reward --env-options '{"continuous":true}' 2>/dev/null | tail -1)"
 echo "$r cart init $($PY $B --component init --env cartpole_balance --env-options '{"physics":"fast"}' 2>/dev/null | tail -1)"
done
