#!/usr/bin/env bash
# Every GPU figure of the adversarial-throughput work in one run (about 8 minutes on one H100),
# each part under its own timeout, logs under $OUT (default runs/gpu-bench). M4 at bf16-mixed,
# batch 8, cuDNN benchmark, L1 and HiFi-GAN (MSD + MPD + MRSD + feature matching):
#   test     the CUDA-graph test (graphed steps equal eager ones)
#   eager    the baseline
#   graphs   discriminators and generator replayed from CUDA graphs
#   layout   channels-last convolutions, eager
#   best     graphs + channels-last + fused AdamW
#   crop     best, discriminators on 8192-sample crops
#   profile  one step of best under torch's profiler
# Wheels for packages a bare GPU image lacks (jsonargparse, soundfile, pytest, ...) may wait
# in .whl/.
#   bash bench/gpu_gan.sh
set -u
OUT=${OUT:-runs/gpu-bench}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm \
    --format=csv > "$OUT/gpu.txt" 2>&1
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" \
    >> "$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"

part() {  # name, seconds, gan_step arguments...
    local name=$1 limit=$2 start=$SECONDS
    shift 2
    timeout "$limit" python3 bench/gan_step.py --accelerator gpu --precision bf16-mixed \
        --batch-size 8 --benchmark "$@" > "$OUT/$name.log" 2>&1
    echo "== $name: exit $? after $((SECONDS - start))s (limit ${limit}s)"
    grep -E '^\| (l1|hifigan)|^configs|CUDA graphs: capturing' "$OUT/$name.log" \
        || tail -n 5 "$OUT/$name.log"
}
start=$SECONDS
timeout 120 python3 -m pytest -q -x -p no:cacheprovider tests/training/test_graphs.py \
    > "$OUT/test.log" 2>&1
echo "== test: exit $? after $((SECONDS - start))s"; tail -n 3 "$OUT/test.log"
BEST="--cuda-graphs all --channels-last all --fused"
part best 100 --steps 20 --warmup 2 --objectives l1 hifigan $BEST
part eager 100 --steps 20 --objectives l1 hifigan
part graphs 70 --steps 20 --warmup 2 --objectives hifigan --cuda-graphs all
part layout 70 --steps 20 --objectives hifigan --channels-last all
part crop 60 --steps 20 --warmup 2 --objectives hifigan --crop-length 8192 $BEST
part profile 70 --steps 1 --warmup 2 --objectives hifigan $BEST --profile "$OUT/profile"
grep -A 30 "^profile of" "$OUT/profile.log" | cut -c1-200 > "$OUT/profile-top.txt"
rm -f "$OUT/profile/trace.json"  # too large to bring back
