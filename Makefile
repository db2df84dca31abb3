# Two commands on a fresh machine: `make demo` and `make test`. Each does all set-up first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.stamp-install
# Debian packages the tests and the demo need (none yet for the foundation; DICOM/PACS issues add theirs here).
APT_PACKAGES :=

.PHONY: setup system-deps demo test lint clean

setup: $(STAMP)

# torch is installed first and pinned: the local CPU build, so no dependency pulls CUDA wheels.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev]"
	touch $(STAMP)

system-deps:
ifneq ($(strip $(APT_PACKAGES)),)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi
endif

demo: setup system-deps
	$(VENV)/bin/monai-fiqa demo --out demo_out

test: setup system-deps
	$(VENV)/bin/ruff check monai_fiqa tests benchmarks docs
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check monai_fiqa tests benchmarks docs
	$(VENV)/bin/ruff format --check monai_fiqa tests benchmarks docs

clean:
	rm -rf $(VENV) demo_out .pytest_cache .ruff_cache
