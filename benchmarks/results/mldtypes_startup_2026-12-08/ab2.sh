# warm starts of the default command: ml_dtypes 0.7.0 (/tmp/venv07) vs 0.6.0 (/work/main/.venv), same tree, interleaved
for rnd in 1 2 3 4 5; do
 if [ $((rnd % 2)) = 1 ]; then order="/tmp/venv07 /work/main/.venv"; else order="/work/main/.venv /tmp/venv07"; fi
 for V in $order; do
  cache=$(mktemp -d); runs=$(mktemp -d)
  for phase in cold warm1 warm2 warm3; do
    t0=$(date +%s.%N)
    out=$(JAXRL_COMPILATION_CACHE=$cache $V/bin/python /tmp/su/startup_child.py /work/main train --steps 20000 --runs-dir $runs --eval-episodes 2 --no-tensorboard 2>/dev/null)
    t1=$(date +%s.%N)
    first=$(echo "$out" | grep FIRST_TRAIN | awk '{print $2}')
    echo "$rnd $($V/bin/python -c 'import ml_dtypes; print(ml_dtypes.__version__)') $phase to_training $(echo "$first - $t0" | bc) wall $(echo "$t1 - $t0" | bc) $(echo "$out" | grep -o 'compile [0-9.]* s') $(echo "$out" | grep -o 'return [0-9.-]*' | tail -1)"
  done; rm -rf $cache $runs
 done
done
