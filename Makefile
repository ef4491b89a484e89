# jepa-torus: the experiment graph.  `make test` and `make paper` install what they need.
#
#   make paper [PROFILE=cpu|gpu|smoke] [JOBS=2]   every run, table, figure, report, the PDF, Lean
#   make runs | bench | tables | figures | reports | lean | clean
#   ONLY='torus_world/%/seed0 ...'   make only these runs (tables and notebooks read every finished run)
#
# Each run is a target (runs/<profile>/<dataset>/<name>/seed<k>/final.json, rules generated
# by jepa_torus.plan): a finished run is not redone, an interrupted one resumes, -j is safe.
# Every target is written under a temporary name and renamed, so `make` killed at any point
# (even SIGKILL) and started again finishes with the same results as an uninterrupted run.
SHELL := /bin/bash
PYTHON ?= python3
PROFILE ?= cpu
JOBS ?= 2
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUNS_DIR := runs/$(PROFILE)
REPORTS := reports/$(PROFILE)
GEN := paper/generated/$(PROFILE)
PDF := paper/main-$(PROFILE).pdf
ONLY ?=
BENCH_ARGS_smoke := --dims 64 256 --repeats 2
BENCH_ARGS_cpu := --repeats 5 --threads 1
BENCH_ARGS_gpu := --repeats 5
TEX_PACKAGES := texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended lmodern latexmk

.PHONY: help test paper runs bench tables figures reports lean clean clean-all sysdeps texdeps
help:
	@sed -n '2,8p' Makefile

# ---------------------------------------------------------------- environment
# The venv is rebuilt only when the dependency list changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test,paper]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

# Debian packages: Fashion-MNIST and TeX Live.  Installed when we are root with apt-get,
# otherwise named in a clear message (the data loader can also download Fashion-MNIST).
sysdeps:
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && [ -z "$$JEPA_TORUS_DATA" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -qq dataset-fashion-mnist || (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)) >/dev/null \
	      || echo "note: could not install dataset-fashion-mnist; set JEPA_TORUS_DATA or run with download enabled"; \
	  else echo "note: Fashion-MNIST not found: sudo apt-get install dataset-fashion-mnist, or set JEPA_TORUS_DATA"; fi; fi

texdeps:
	@if ! command -v latexmk >/dev/null || ! kpsewhich lmodern.sty booktabs.sty natbib.sty >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing TeX Live (about 2 minutes): $(TEX_PACKAGES)"; \
	    (apt-get install -y -qq $(TEX_PACKAGES) || (apt-get update -qq && apt-get install -y -qq $(TEX_PACKAGES))) >/dev/null; \
	  else echo "error: LaTeX is missing; install: sudo apt-get install $(TEX_PACKAGES)"; exit 1; fi; fi

# ---------------------------------------------------------------- tests
test: $(STAMP) sysdeps texdeps
	$(PY) -m pytest -q

# ---------------------------------------------------------------- experiments
PAPER_GOALS := paper runs bench tables figures reports
ifneq ($(filter $(PAPER_GOALS) $(RUNS_DIR)/% $(REPORTS)/% $(GEN)/% $(PDF),$(MAKECMDGOALS)),)
-include $(RUNS_DIR)/plan.mk
endif
$(RUNS_DIR)/plan.mk: jepa_torus/plan.py | $(STAMP)
	@mkdir -p $(@D)
	$(PY) -m jepa_torus.plan makefile --profile $(PROFILE) > $@.tmp && mv $@.tmp $@

# the runs to make: all of the profile's, or those matching ONLY (make patterns, % = any)
RUNS_SELECTED := $(if $(ONLY),$(filter $(addsuffix /final.json,$(addprefix $(RUNS_DIR)/,$(ONLY))),$(RUNS_$(PROFILE))),$(RUNS_$(PROFILE)))
runs: $(RUNS_SELECTED)
bench: $(RUNS_DIR)/bench_losses.json

$(RUNS_DIR)/bench_losses.json: tests/bench_losses.py jepa_torus/losses.py | $(STAMP)
	@mkdir -p $(@D)
	$(PY) tests/bench_losses.py $(BENCH_ARGS_$(PROFILE)) --out $@

# The tables and macros (every number of the paper) come from the finished runs through
# jepa_torus.report, without a notebook; macros.tex is written last, so it stands for all.
TABLES := $(GEN)/macros.tex
$(TABLES): $(RUNS_SELECTED) jepa_torus/report.py jepa_torus/runs.py $(RUNS_DIR)/bench_losses.json paper/data/original_results.csv | $(STAMP)
	$(PY) -m jepa_torus.report --profile $(PROFILE)

# The notebooks only plot, from every finished run of the profile.
NB_DEPS := $(RUNS_SELECTED) jepa_torus/notebook.py jepa_torus/runs.py jepa_torus/report.py jepa_torus/metrics.py
$(REPORTS)/analyze.html: notebooks/analyze.ipynb $(NB_DEPS)
	$(PY) -m jepa_torus.plan notebook analyze --profile $(PROFILE)
$(REPORTS)/ablate.html: notebooks/ablate.ipynb $(NB_DEPS)
	$(PY) -m jepa_torus.plan notebook ablate --profile $(PROFILE)
$(REPORTS)/figures.html: notebooks/figures.ipynb $(NB_DEPS) $(RUNS_DIR)/bench_losses.json
	$(PY) -m jepa_torus.plan notebook figures --profile $(PROFILE)

tables: $(TABLES)
figures: $(REPORTS)/figures.html $(REPORTS)/analyze.html $(REPORTS)/ablate.html
reports: $(REPORTS)/index.html
$(REPORTS)/index.html: $(REPORTS)/analyze.html $(REPORTS)/ablate.html $(REPORTS)/figures.html
	$(PY) -m jepa_torus.plan index --profile $(PROFILE)

# ---------------------------------------------------------------- paper
# LaTeX writes its PDF in place: build under another name and rename, so a killed build
# never leaves a half PDF that make would take as up to date.
$(PDF): paper/main.tex paper/refs.bib $(TABLES) $(REPORTS)/figures.html $(REPORTS)/analyze.html $(REPORTS)/ablate.html | texdeps
	cd paper && latexmk -pdf -interaction=nonstopmode -halt-on-error -jobname=main-$(PROFILE)-build \
	  -pdflatex='pdflatex %O "\def\profile{$(PROFILE)}\input{%S}"' main.tex >/dev/null \
	  || (tail -40 main-$(PROFILE)-build.log; exit 1)
	cp paper/main-$(PROFILE)-build.log paper/main-$(PROFILE).log  # the log under its usual name
	mv paper/main-$(PROFILE)-build.pdf $@

# paper/main.pdf is the cpu or gpu profile's paper; the smoke profile's stays main-smoke.pdf.
COPY_PDF := $(if $(filter smoke,$(PROFILE)),,cp $(PDF) paper/.main.pdf.tmp && mv paper/.main.pdf.tmp paper/main.pdf &&)
# `make paper` uses JOBS cores for the runs by itself (make -j$(JOBS) runs).
paper: $(STAMP) sysdeps
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory -j$(JOBS) runs bench && \
	$(MAKE) --no-print-directory -j$(JOBS) reports && \
	$(MAKE) --no-print-directory $(PDF) && $(COPY_PDF) \
	$(MAKE) --no-print-directory lean && \
	echo "make paper PROFILE=$(PROFILE): done in $$(( ($$(date +%s) - start) / 60 )) min; paper/main.pdf, $(REPORTS)/index.html"

# ---------------------------------------------------------------- Lean
lean:
	@if command -v lake >/dev/null; then cd lean && lake exe cache get && lake build; \
	else echo "lean: no Lean toolchain (lake) on PATH; the proofs in lean/ were not checked here."; \
	  echo "      install elan (curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf | sh)"; \
	  echo "      then: make lean   (CI: .github/workflows/lean.yml)"; fi

# ---------------------------------------------------------------- cleaning
clean:  # generated tables, figures, reports and PDFs of PROFILE; runs are kept
	rm -rf $(REPORTS) $(GEN) figures/$(PROFILE) $(PDF)
	cd paper && latexmk -C -jobname=main-$(PROFILE)-build main.tex >/dev/null 2>&1 || true
clean-all: clean  # also the runs of PROFILE (hours of CPU for PROFILE=cpu)
	rm -rf $(RUNS_DIR)
