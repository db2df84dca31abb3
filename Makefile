# Two commands on a fresh machine: `make demo` and `make test`. Each does all set-up first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.stamp-install
# The MAP packager (Holoscan CLI 3.x: `holoscan package`) in its own venv: the SDK 4.0 in the main venv needs
# holoscan-cli 5, whose `package` command builds something else.
MAP_VENV  := .venv-map
MAP_STAMP := $(MAP_VENV)/.stamp-install
# MONAI Label 0.8.5 needs pydicom < 3 (our DICOM writers need >= 3): its own venv with monai_fiqa installed without
# its dependency list (pip brings a CUDA torch there, which runs on the CPU; ~8 GB, a few minutes the first time).
LABEL_VENV  := .venv-label
LABEL_STAMP := $(LABEL_VENV)/.stamp-install
# Debian packages the tests and the demo need: dciodvfy (dicom3tools) and dcmtk validate what we write, Orthanc is
# the PACS of the round-trip test, Chromium renders the QC report in a test.
APT_PACKAGES := dicom3tools dcmtk orthanc chromium

.PHONY: setup system-deps demo test test-fast lint clean map-check label-env

setup: $(STAMP) $(MAP_STAMP)

# torch is installed first and pinned: the local CPU build, so no dependency pulls CUDA wheels.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev,deploy,batch]"
	touch $(STAMP)

$(MAP_STAMP):
	$(PYTHON) -m venv $(MAP_VENV)
	$(MAP_VENV)/bin/pip install -q "holoscan-cli==3.11.0"
	touch $(MAP_STAMP)

label-env: $(LABEL_STAMP)

$(LABEL_STAMP): pyproject.toml
	$(PYTHON) -m venv $(LABEL_VENV)
	$(LABEL_VENV)/bin/pip install -q --upgrade pip
	$(LABEL_VENV)/bin/pip install -q "monailabel==0.8.5" "pydicom<3" torchio
	$(LABEL_VENV)/bin/pip install -q --no-deps -e .
	touch $(LABEL_STAMP)

system-deps:
ifneq ($(strip $(APT_PACKAGES)),)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi
endif

# The Deploy app on the sample study; exit status 3 = partial (a series could not be assessed, e.g. when a bundle is
# removed) is reported, not a demo failure.
demo: setup system-deps
	$(VENV)/bin/monai-fiqa demo --out demo_out
	rm -rf demo_out/study demo_out/app
	$(VENV)/bin/monai-fiqa sample-study --out demo_out/study
	$(PY) -m app_packages.fiqa_app -i demo_out/study -o demo_out/app -l WARN; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 3 ]

# The whole suite; the import-layer contract (pyproject.toml [tool.importlinter]) fails it on a wrong-way import.
test: setup system-deps label-env
	$(VENV)/bin/ruff check monai_fiqa tests benchmarks docs app_packages
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

# The quick loop while developing: everything except the tests marked slow (servers, Orthanc, Chromium, the MONAI
# Label env, MAP packaging, training, whole bundles); `make test` still runs them all.
test-fast: setup
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(VENV)/bin/ruff check monai_fiqa tests benchmarks docs app_packages
	$(VENV)/bin/ruff format --check monai_fiqa tests benchmarks docs app_packages
	$(VENV)/bin/lint-imports

# Everything of MAP packaging up to the container build (Docker is not available here): manifests and Dockerfile.
map-check: setup
	$(PY) -m pytest -q tests/deploy/test_map_packaging.py

clean:
	rm -rf $(VENV) $(MAP_VENV) $(LABEL_VENV) demo_out .pytest_cache .ruff_cache
