# One virtual environment in .venv; every target installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install train test lint format bench clean

# Bytecode is compiled at install, as pip does for a regular install: an editable one
# would otherwise compile dnn_lab's modules again at every start wherever
# PYTHONDONTWRITEBYTECODE is set (0.1 s of each command). Stale files only are redone.
install: $(STAMP)
	$(BIN)/python -m compileall -q dnn_lab

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Train the default config on the embedded digits dataset.
train: install
	$(BIN)/dnn-lab train configs/adam_relu.yaml

## The test suite (CPU, a few minutes): each test file in one of up to 4 processes.
test: install
	$(BIN)/python -m pytest --numprocesses=auto --maxprocesses=4 --dist loadfile

lint: install
	$(BIN)/ruff check dnn_lab tests benchmarks
	$(BIN)/ruff format --check dnn_lab tests benchmarks

format: install
	$(BIN)/ruff format dnn_lab tests benchmarks
	$(BIN)/ruff check --fix dnn_lab tests benchmarks

## Speed and memory figures; never part of `make test`.
bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
