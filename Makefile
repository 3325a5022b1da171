# Parley: `make run` installs everything and serves on the embedded default; `make test` installs and tests.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# A CPU build of torch. On the project's machines `torch==2.13.0` resolves to a local CPU wheel; elsewhere
# add the CPU index, e.g. `make run TORCH_INDEX=--index-url=https://download.pytorch.org/whl/cpu`.
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
# llama.cpp (the local model) builds from source. Its native build uses the AVX-512/AMX it detects, which crashes in
# the first decode on these machines: build for the portable instruction set instead.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF
# `make run LLM=local`: also serve SmolLM2-135M-Instruct through a local llama.cpp server (PARLEY_LLM=local).
LLM ?=
export HAYSTACK_TELEMETRY_ENABLED=False
export ANONYMIZED_TELEMETRY=False
export HF_HUB_OFFLINE=1
export OMP_THREAD_LIMIT=1

.PHONY: install system-deps browser-deps run test lint unit fuzz-quick fuzz bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_INDEX) "$(TORCH)"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -e ".[dev,postgres,kurrentdb,local]"
	touch $@

install: system-deps $(VENV)/.installed

# Tesseract (OCR) comes from Debian; installed only when missing.
system-deps:
	@command -v tesseract >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null; }

# Chromium and its driver, from Debian, for the browser tests (tests/browser) only; installed only when missing.
browser-deps:
	@command -v chromedriver >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

run: install
	$(if $(LLM),PARLEY_LLM=$(LLM)) $(BIN)/parley serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint browser-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider

# schemathesis over every operation: `make test` runs it with 25 examples each; `make fuzz` with 500.
fuzz-quick: install
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/api/test_fuzz.py

fuzz: install
	PARLEY_FUZZ_EXAMPLES=500 $(BIN)/python -m pytest -q -p no:cacheprovider tests/api/test_fuzz.py

unit: install
	$(BIN)/python -m pytest -q tests/unit tests/contract

bench: install
	$(BIN)/python -m bench.ingest_bench

clean:
	rm -rf $(VENV) data
