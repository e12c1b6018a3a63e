# muscall: `make demo` and `make test` each set up everything they need on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
# CPU build by default (taken from local disk here); GPU users: make TORCH='torch==2.13.*' --index-url ...
TORCH  ?= torch==2.13.0
EXTRAS ?= serve,dev
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo-out

.PHONY: install system-deps test demo bench clean help
help:
	@echo "make demo   - set up, generate a small corpus, train, index, serve and search"
	@echo "make test   - set up and run the test suite"
	@echo "make bench  - run the benchmarks and rewrite BENCHMARKS.md"

install: $(STAMP) system-deps

# torch first: anything that needs torch, installed without it, pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "$(TORCH)"
	$(BIN)/pip install -q --disable-pip-version-check -e ".[$(EXTRAS)]"
	touch $@

system-deps:
	@bash scripts/install_system_deps.sh

test: install
	$(BIN)/python -m pytest -q tests

demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh $(DEMO)

bench: install
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/bench_all.sh

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
