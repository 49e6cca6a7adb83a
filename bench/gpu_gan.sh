#!/usr/bin/env bash
# Every GPU figure of the adversarial-throughput work in one run (about 7 minutes on one H100),
# each part under its own timeout, logs under $OUT (default runs/gpu-bench):
#   M4 at bf16-mixed, batch 8, cuDNN benchmark: L1 and HiFi-GAN (MSD + MPD + MRSD + feature
#   matching) eager, with a profile of the HiFi-GAN step; HiFi-GAN with 8192-sample crops;
#   HiFi-GAN with every network compiled; and compiled with CUDA graphs (reduce-overhead).
# Wheels for packages a bare GPU image lacks (jsonargparse, soundfile, ...) may wait in .whl/.
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
    local name=$1 limit=$2
    shift 2
    timeout "$limit" python3 bench/gan_step.py --accelerator gpu --precision bf16-mixed \
        --batch-size 8 --benchmark "$@" > "$OUT/$name.log" 2>&1
    echo "== $name: exit $? (limit ${limit}s)"
    grep -E '^\| (l1|hifigan)|^configs' "$OUT/$name.log" || tail -n 5 "$OUT/$name.log"
}
part eager 120 --steps 20 --objectives l1 hifigan --profile "$OUT/profile"
part crop 60 --steps 20 --objectives hifigan --crop-length 8192
part compiled 150 --steps 20 --warmup 3 --objectives hifigan --compile all
part graphs 150 --steps 20 --warmup 4 --objectives l1 hifigan --compile all \
    --compile-mode reduce-overhead
grep -A 22 "^profile of" "$OUT/eager.log" | cut -c1-160 > "$OUT/profile-top.txt"
