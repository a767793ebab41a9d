import sys, os
sys.path.insert(0, "/tmp/cp")
var = sys.argv[1]
import variants
from jaxrl import runner, cli
if var == "old": runner.first_nonfinite = variants.old
sys.argv = ["jaxrl", "train", "--eval-episodes", "0", "--runs-dir", sys.argv[2], "--no-tensorboard"]
cli.main()
