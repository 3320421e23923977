# Two entry points for a fresh machine: `make demo` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
SHARED := $(abspath ../shared/data)
# Offline mirror beside the checkout, unless the caller set AUXLEARN_DATA_DIR.
export AUXLEARN_DATA_DIR ?= $(if $(wildcard $(SHARED)),$(SHARED),)

.PHONY: demo test install chromium postgresql

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/auxlearn run examples/demo.yaml

# The report tests render report.html in headless Chromium (a Debian package, not a PyPI one).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  { echo "make test needs Chromium: apt-get install chromium (as root) failed" >&2; exit 1; }

# The worker tests start a PostgreSQL server of their own (Debian's package: initdb, pg_ctl), as PostgreSQL is
# what several machines share a study through.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } || \
	  { echo "make test needs PostgreSQL: apt-get install postgresql (as root) failed" >&2; exit 1; }

test: install chromium postgresql
	$(VENV)/bin/lint-imports --no-cache  # the layer contract in pyproject.toml
	$(PY) -m pytest -q --durations=15  # the slowest tests listed, to keep the suite under 20 minutes
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict  # the docs site, into site/
	$(PY) .ci/check_wheel.py  # the wheel installs and runs outside the checkout
