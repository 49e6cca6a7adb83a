# gansep: `make demo` and `make test` install everything into .venv/ first.
# GPU users: pick the torch build for their CUDA, e.g.
#   make install TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126"
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data/toy
PYTEST_ARGS ?=

.PHONY: install demo test bench clean ffmpeg compare-demo

install: $(STAMP)

# Re-runs only when the package's dependencies or this file change.
$(STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory ffmpeg
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# musdb and museval import stempeg, which needs ffmpeg on PATH.
ffmpeg:
	@command -v ffmpeg >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing ffmpeg (apt-get)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; }; \
	  else \
	    echo "ffmpeg is missing: install it (e.g. sudo apt-get install ffmpeg); MUSDB and museval need it" >&2; \
	    exit 1; \
	  fi; }

$(DATA)/test: | $(STAMP)
	$(BIN)/gansep make-data toy $(DATA)

demo: install $(DATA)/test
	$(BIN)/gansep fit --config configs/demo.yaml --trainer.enable_progress_bar false
	$(BIN)/gansep test --config configs/demo.yaml --trainer.enable_progress_bar false \
	  --trainer.logger.init_args.version test --ckpt_path runs/demo/l1/checkpoints/last.ckpt

# The demo sweep (objectives x seeds on the toy data), then the comparison of its runs.
compare-demo: install $(DATA)/test
	$(BIN)/gansep sweep experiments/objectives-demo.yaml --runs-dir runs/objectives-demo
	$(BIN)/gansep compare runs/objectives-demo --baseline l1 --out runs/objectives-demo-comparison

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/train_step.py

clean:
	rm -rf $(VENV) runs
