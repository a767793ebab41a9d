PY=/work/main/.venv/bin/python
export JAXRL_COMPILATION_CACHE=off
for r in 1 2 3; do
  echo "$r bare $($PY /work/main/benchmarks/compile_breakdown.py --component bare --env cartpole_balance --env-options '{"physics":"fast"}' 2>/dev/null | tail -1)"
  for v in old new; do d=$(mktemp -d); s=$(date +%s.%N); line=$($PY cliab.py $v $d 2>/dev/null | grep "complete:"); e=$(date +%s.%N); echo "$r $v wall $(echo "$e - $s" | bc) $line"; rm -rf $d; done
done
