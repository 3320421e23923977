# Two entry points for a fresh machine: `make demo` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
SHARED := $(abspath ../shared/data)
# Offline mirror beside the checkout, unless the caller set AUXLEARN_DATA_DIR.
export AUXLEARN_DATA_DIR ?= $(if $(wildcard $(SHARED)),$(SHARED),)

.PHONY: demo test install

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/auxlearn run examples/demo.yaml

test: install
	$(PY) -m pytest -q
