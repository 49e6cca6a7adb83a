#!/usr/bin/env bash
# The GPU measurements quoted in the README and the issues' notes, in one go:
#   bench/cuda.sh [LOG_DIR]
# 1. the adversarial demo (configs/demo-gan.yaml) trained on CUDA with 16-bit mixed precision:
#    step time and peak GPU memory (bench/fit_step.py);
# 2. M4 GAN step times per discriminator family, fp32 and 16-mixed (bench/gan_step.py);
# 3. gansep separate's real-time factor on the GPU (bench/separate.py).
# Each step is bounded by `timeout`, so one slow step leaves the others' logs.
set -u
LOG=${1:-runs/cuda}
PY=${PYTHON:-python}
mkdir -p "$LOG"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$LOG/gpu.txt"
[ -d data/toy ] || $PY -c "import sys; from gansep.cli.main import main
sys.exit(main(['make-data', 'toy', 'data/toy']))"
timeout 180 $PY bench/fit_step.py --config configs/demo-gan.yaml --trainer.accelerator gpu \
    --trainer.precision 16-mixed --trainer.enable_progress_bar false > "$LOG/fit-demo-gan.log" 2>&1
tail -6 "$LOG/fit-demo-gan.log"
for precision in 32-true 16-mixed; do
    timeout 110 $PY bench/gan_step.py --accelerator gpu --precision $precision --steps 10 \
        > "$LOG/gan-step-$precision.log" 2>&1
    tail -9 "$LOG/gan-step-$precision.log"
done
timeout 150 $PY bench/separate.py --device cuda --long-seconds 600 > "$LOG/separate.log" 2>&1
tail -8 "$LOG/separate.log"
