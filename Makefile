# FuncPipe Async — Module 08.  The two commands (each sets up .venv/ on first use):
#   make lab    open the course in JupyterLab (127.0.0.1, token-protected)
#   make test   run every test: pytest + strict nbval + mypy --strict + the boundary check
#               + the demos in a real browser (installs Debian's chromium the first time)
# and, for maintainers:
#   make test-fast   the package's tests without the slow ones (grading, nbval, browser): < 1 minute
#   make notebooks   rebuild every notebook from its .py source and execute it (then commit both)
#   make exercises   regenerate exercises/ from solutions/ (then make notebooks)
#   make requirements  recompile requirements.txt / requirements-dev.txt from the .in files
#   make bench       run the benchmarks and print their figures
#   make html        build a static HTML copy of the course in build/html/ (no kernel needed)
#   make browser-check   only the real-browser check of the two slider demos (before a class)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Two stamps: students get requirements.txt (JupyterLab and what the lessons run) and the
# package; maintainers and CI add requirements-dev.txt (tests, notebook tools, types, lint, browser).
STUDENT := $(VENV)/.student
DEV     := $(VENV)/.dev
# The browser check's Chromium: Debian's package, installed on first `make test` if missing.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
# JupyterLab refuses to run as root without this flag; add it only when we are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test test-fast notebooks exercises requirements bench html browser-check clean

$(STUDENT): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -c "import matplotlib.pyplot"   # build matplotlib's font cache once, quietly
	touch $(STUDENT)

$(DEV): $(STUDENT) requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(DEV)

$(CHROMIUM):
	bash tools/install_chromium.sh

# The student's own copy of the lessons and exercises (tools/student_copy.py): JupyterLab's
# autosave and the student's answers stay out of the files git tracks. The landing page is
# lesson 00 (default_url is also what the printed URL opens); no news pop-up, no update check.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json

$(LAB_SETTINGS): $(STUDENT)
	mkdir -p $(dir $(LAB_SETTINGS))
	echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $(LAB_SETTINGS)

lab: $(STUDENT) $(LAB_SETTINGS)
	$(BIN)/python tools/student_copy.py
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=work $(ROOT_FLAG) \
	    --LabApp.default_url=/lab/tree/notebooks/00_module_overview.ipynb \
	    --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate

test: $(DEV) $(CHROMIUM)
	bash tools/run_tests.sh

test-fast: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest tests -m "not slow" -n 2 -q

browser-check: $(DEV) $(CHROMIUM)
	$(BIN)/python tools/browser_check.py

notebooks: $(DEV)
	$(BIN)/python tools/execute_notebooks.py

exercises: $(DEV)
	$(BIN)/python tools/make_exercises.py

requirements: $(DEV)
	$(BIN)/uv pip compile requirements.in --python-version 3.11.7 --annotation-style line -o requirements.txt
	$(BIN)/uv pip compile requirements-dev.in --python-version 3.11.7 --annotation-style line -o requirements-dev.txt

bench: $(DEV)
	$(BIN)/python benchmarks/bench_gather.py
	$(BIN)/python benchmarks/bench_bind_depth.py
	$(BIN)/python benchmarks/bench_virtual_time.py
	$(BIN)/python benchmarks/bench_grading.py
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_backpressure_slider.py
	$(BIN)/python benchmarks/bench_fairness_slider.py

html: $(DEV)
	$(BIN)/python tools/export_html.py

clean:
	rm -rf $(VENV)
