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

.PHONY: install demo test test-fast docs docs-serve bench clean ffmpeg system-packages compare-demo listen-demo lyrics-demo \
	ambiguity-demo generators-demo

install: $(STAMP)

# Re-runs only when the package's dependencies or this file change.
$(STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory ffmpeg
	@$(MAKE) --no-print-directory system-packages
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[all,test,docs]"
	@# Every command's --help, built once so that later calls print it at once.
	$(BIN)/gansep --build-help
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

# System packages beside ffmpeg: chromium and chromium-driver (the listening page's browser
# test), espeak-ng (it sings the generated sung-lyrics data). Installed with apt-get as root;
# without root, a message says what is missing (the browser test is then skipped, with its
# reason, unless GANSEP_REQUIRE_BROWSER=1).
SYSTEM_PACKAGES := chromium chromium-driver espeak-ng
system-packages:
	@{ command -v chromium && command -v chromedriver && command -v espeak-ng; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(SYSTEM_PACKAGES) (apt-get)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; }; \
	  else \
	    echo "missing system packages: install $(SYSTEM_PACKAGES) (e.g. sudo apt-get install" \
	      "$(SYSTEM_PACKAGES)); the browser test is skipped and make-data sung-lyrics fails" >&2; \
	  fi; }

$(DATA)/test: | $(STAMP)
	$(BIN)/gansep make-data toy $(DATA)

# The run is runs/demo/l1/ (trained once: a finished run is never trained over); each test
# logs to a folder of its own below it (runs/demo/l1/test/, test-2/, ...).
demo: install $(DATA)/test
	test -f runs/demo/l1/checkpoints/last.ckpt || \
	  $(BIN)/gansep fit --config configs/demo.yaml --trainer.enable_progress_bar false
	$(BIN)/gansep test --config configs/demo.yaml --trainer.enable_progress_bar false \
	  --ckpt_path runs/demo/l1/checkpoints/last.ckpt

# The demo sweep (objectives x seeds on the toy data), then the comparison of its runs.
compare-demo: install $(DATA)/test
	$(BIN)/gansep sweep experiments/objectives-demo.yaml --runs-dir runs/objectives-demo
	$(BIN)/gansep compare runs/objectives-demo --baseline l1 --out runs/objectives-demo-comparison

# Does adversarial fine-tuning choose where L1/L2 average? One L1 separator pretrained per data
# condition (--cue none, and the --cue timbre control) and seed, six objectives fine-tuned from
# it, then the comparison with its controls first (compare-ambiguity.md, ambiguity-curves.png):
# see experiments/ambiguity-demo.yaml (its sizes and why) and docs/evaluation.md (the finding).
AMBIGUOUS := data/ambiguous-8k
AMBIGUOUS_SIZES := --sample-rate 8000 --duration 10 --train 48 --valid 12 --test 52 \
	--backing-db -6 0 --backing-pan 0.3 0.4 --seed 2
$(AMBIGUOUS)/test: | $(STAMP)
	$(BIN)/gansep make-data ambiguous $(AMBIGUOUS) $(AMBIGUOUS_SIZES)
$(AMBIGUOUS)-timbre/test: | $(STAMP)
	$(BIN)/gansep make-data ambiguous $(AMBIGUOUS)-timbre --cue timbre $(AMBIGUOUS_SIZES)

ambiguity-demo: install $(AMBIGUOUS)/test $(AMBIGUOUS)-timbre/test
	$(BIN)/gansep sweep experiments/ambiguity-demo.yaml --runs-dir runs/ambiguity-demo --parallel 2
	$(BIN)/gansep compare runs/ambiguity-demo --baseline "l1 root=ambiguous-8k" \
	  --out runs/ambiguity-demo-comparison

# The same two objectives on three generators (Wave-U-Net, HT Demucs, BS-RoFormer demos):
# see experiments/generators-demo.yaml.
generators-demo: install $(DATA)/test
	$(BIN)/gansep sweep experiments/generators-demo.yaml --runs-dir runs/generators-demo
	$(BIN)/gansep compare runs/generators-demo --baseline "l1 generator=demo" --out runs/generators-demo-comparison

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

# The multi-task demo: sung-lyrics data, a Wave-U-Net with a lyrics head trained on it, and
# its evaluation (SDR, and CER/WER of the head on the test tracks' lines).
SUNG ?= data/sung-lyrics
$(SUNG)/test: | $(STAMP)
	$(BIN)/gansep make-data sung-lyrics $(SUNG) --sample-rate 11025

lyrics-demo: install $(SUNG)/test
	test -f runs/demo-lyrics/multitask/checkpoints/last.ckpt || \
	  $(BIN)/gansep fit --config configs/demo-lyrics.yaml --trainer.enable_progress_bar false
	$(BIN)/gansep evaluate --ckpt runs/demo-lyrics/multitask/checkpoints/last.ckpt \
	  --data $(SUNG) --out runs/demo-lyrics/multitask/eval --overwrite
	$(BIN)/gansep export runs/demo-lyrics/multitask/checkpoints/last.ckpt \
	  --out runs/demo-lyrics/multitask/export --overwrite
	$(BIN)/gansep evaluate-alignment --model runs/demo-lyrics/multitask/export \
	  --data $(SUNG)/test --out runs/demo-lyrics/multitask/alignment --overwrite

# The suite on every core (pytest-xdist, a test module's tests on one worker: the robustness
# corpus runs all its cases together). PYTEST_WORKERS=0 runs it in this process.
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile \
  --no-loadscope-reorder)
test: install
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

# The fast tier, for iteration: everything but the tests marked slow (@pytest.mark.slow).
test-fast: install
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not slow" $(PYTEST_ARGS)

# The documentation site: docs/ and the docstrings (API reference) into site/, every internal
# link and reference resolved (--strict); no font or script is fetched at build or view time.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

docs-serve: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

bench: install
	$(BIN)/python bench/train_step.py

clean:
	rm -rf $(VENV) runs site
