# muscall: `make demo` and `make test` each set up everything they need on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
# torch goes in first, alone. On this kind of machine pip takes a local CPU build of 2.13.0. Elsewhere, pick the
# build: CPU `make TORCH_INDEX=https://download.pytorch.org/whl/cpu`, GPU `make TORCH='torch==2.13.*'` (PyPI: CUDA).
TORCH  ?= torch==2.13.0
TORCH_INDEX ?=
EXTRAS ?= serve,dev,minilm
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo-out

.PHONY: install system-deps test demo bench clean help
help:
	@echo "make demo   - set up, generate a small corpus, train, index, serve and search"
	@echo "make test   - set up and run the test suite"
	@echo "make bench  - run the benchmarks and rewrite BENCHMARKS.md"

install: system-deps $(STAMP)

# torch first: anything that needs torch, installed without it, pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install -q --disable-pip-version-check -e ".[$(EXTRAS)]"
	touch $@

system-deps:
	@PYTHON=$(PYTHON) bash scripts/install_system_deps.sh $(SYSTEM_DEPS_FLAGS)

test: SYSTEM_DEPS_FLAGS = --with-browser
test: install
	$(BIN)/python -m pytest -q tests

demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh $(DEMO)

bench: install
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/bench_all.sh

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
