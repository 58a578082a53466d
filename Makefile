# The two set-up commands of a fresh checkout: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean constraints

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

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benches/bench_materialize.py

clean:
	rm -rf $(VENV) .tmp .pytest_cache

constraints: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -v '^madstream' > constraints.txt
