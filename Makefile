# DASH — one command each: `make demo`, `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install proto check-proto lint test demo demo-down recall bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Regenerate the gRPC stubs from proto/ (they are committed; never edit them by hand).
proto: $(STAMP)
	PYTHON=$(BIN)/python bash scripts/gen_proto.sh dash_client/_pb

## Fail if the committed stubs differ from what proto/ generates.
check-proto: $(STAMP)
	@tmp=$$(mktemp -d) && PYTHON=$(BIN)/python bash scripts/gen_proto.sh $$tmp/_pb && \
	  diff -r -x __pycache__ $$tmp/_pb dash_client/_pb && echo "generated stubs are up to date" ; \
	  rc=$$?; rm -rf $$tmp; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) check-proto lint
	$(BIN)/python -m pytest -q

## Start a local cluster (etcd, 3 nodes, a router), ingest the bundled corpus, answer a few questions.
## The cluster keeps running; `make demo-down` stops it.
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

demo-down: $(STAMP)
	$(BIN)/dash cluster down --dir var/demo

## Performance figures: `make bench PROFILE=smoke|standard|large|xlarge` (peers side by side; results,
## plots and a summary under docs/benchmarks/). Installs the optional `bench` extra first.
PROFILE ?= standard
bench: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/dash bench --profile $(PROFILE) --peers

recall: $(STAMP)
	$(BIN)/python scripts/ann_recall.py --n 100000 --out docs/benchmarks/ann_recall.json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis var
