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

.PHONY: install demo test bench clean ffmpeg browser compare-demo listen-demo

install: $(STAMP)

# Re-runs only when the package's dependencies or this file change.
$(STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory ffmpeg
	@$(MAKE) --no-print-directory browser
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

# The listening-test page's browser test drives Debian's chromium through chromedriver.
# Without root it is skipped (with the reason) unless GANSEP_REQUIRE_BROWSER=1.
browser:
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium and chromium-driver (apt-get)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }; \
	  else \
	    echo "chromium/chromedriver missing: the browser test of the listening page will be skipped" \
	      "(install them, e.g. sudo apt-get install chromium chromium-driver)" >&2; \
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

# A listening test of the demo runs' L1 and GAN vocals on the toy test tracks, served on
# http://127.0.0.1:$(PORT)/ (trains the two demo runs first if they are missing).
LISTEN_DEMO ?= runs/listen-demo
PORT ?= 8000
listen-demo: install $(DATA)/test
	test -f runs/demo/l1/checkpoints/last.ckpt || \
	  $(BIN)/gansep fit --config configs/demo.yaml --trainer.enable_progress_bar false
	test -f runs/demo/gan/checkpoints/last.ckpt || \
	  $(BIN)/gansep fit --config configs/demo-gan.yaml --trainer.enable_progress_bar false
	$(BIN)/gansep evaluate --ckpt runs/demo/l1/checkpoints/last.ckpt --data $(DATA) \
	  --write-estimates --out $(LISTEN_DEMO)/l1
	$(BIN)/gansep evaluate --ckpt runs/demo/gan/checkpoints/last.ckpt --data $(DATA) \
	  --write-estimates --out $(LISTEN_DEMO)/gan
	test -f $(LISTEN_DEMO)/test/test.json || $(BIN)/gansep listen build \
	  --references $(DATA)/test --condition l1=$(LISTEN_DEMO)/l1/estimates \
	  --condition gan=$(LISTEN_DEMO)/gan/estimates --source vocals --trials 6 --seconds 3 \
	  --out $(LISTEN_DEMO)/test --name "gansep demo: L1 and GAN vocals"
	$(BIN)/gansep listen serve $(LISTEN_DEMO)/test --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/train_step.py

clean:
	rm -rf $(VENV) runs
