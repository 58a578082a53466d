# The two set-up commands of a fresh checkout: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint test-duckdb15 install bench clean constraints docs

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# constraints.txt pins the versions the suite was last verified with, so a fresh install never
# spends minutes backtracking through boto/moto releases; regenerate it with `make constraints`.
$(STAMP): $(PY) pyproject.toml constraints.txt
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) examples/quickstart.py

# The layers contract, lint and types, the suite on the pinned DuckDB (2.x), then the
# query-facing tests and the storage conformance suite (SFTP and S3 on loopback) on DuckDB 1.5.
test: lint
	$(PY) -m pytest -q
	$(MAKE) --no-print-directory test-duckdb15

# lint-imports fails when a lower layer imports a higher one, or modules import in a loop.
lint: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check madstream tests benches
	$(VENV)/bin/mypy madstream

DUCKDB15 := $(VENV)/duckdb15
$(DUCKDB15): $(STAMP)
	$(PY) -m pip install --quiet --no-deps --target $(DUCKDB15) 'duckdb>=1.5,<1.6'

test-duckdb15: $(DUCKDB15)
	PYTHONPATH=$(DUCKDB15) $(PY) -c 'import duckdb; print("DuckDB", duckdb.__version__)'
	PYTHONPATH=$(DUCKDB15) $(PY) -m pytest -q tests/test_query.py tests/test_formats.py tests/test_sources.py tests/test_schema.py \
		tests/test_query_security.py tests/test_text_types.py tests/storage/test_conformance.py

# The docs site (MkDocs Material + mkdocstrings) into .tmp/site; --strict fails on a broken link,
# anchor or API reference. tests/test_docs.py builds it too and runs every example on it.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir .tmp/site

# The dev extra (matplotlib for the chart, profilers) has its own stamp: `make test` never needs it.
DEV_STAMP := $(VENV)/.installed-dev
$(DEV_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(DEV_STAMP)

# Every bench (~30 min on 2 cores; BENCH_ARGS=--quick for a ~1 min smoke check): the run's JSON
# in benches/results/, its tables in benches/results/summary.md, the chart in benches/chart.svg.
BENCH_ARGS ?=
bench: $(DEV_STAMP)
	$(PY) benches/bench_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .tmp .pytest_cache

constraints: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -v '^madstream' > constraints.txt
