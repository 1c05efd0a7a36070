# tokenops.tokens: `make demo` and `make test` are all a new user needs; both set up what they use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY311 ?= $(shell scripts/find_python.sh 3.11)
PY312 ?= $(shell scripts/find_python.sh 3.12)
V219 := .venv/ansible-2.19
V221 := .venv/ansible-2.21
PIP_FLAGS := --quiet --disable-pip-version-check
PYTEST_FLAGS ?= -q -p no:cacheprovider

PHONY_DOCS := docs docs-check
.PHONY: $(PHONY_DOCS) help venv test pytest pytest-2.19 pytest-2.21 sanity sanity-2.19 sanity-2.21 lint build demo sandbox bench clean

help:
	@echo "make demo   - start the sandbox, run the rotation playbook against it, print the report"
	@echo "make test   - everything that checks the project (pytest, ansible-test sanity, ansible-lint, build)"
	@echo "make bench  - measure requests and wall times, write docs/benchmarks.md"
	@echo "make docs   - render docs/modules from the modules' documentation"
	@echo "make sandbox - serve the five fake APIs on loopback in the foreground"

$(V219)/.ready: tests/requirements-2.19.txt tests/requirements-common.txt
	rm -rf $(V219) && $(PY311) -m venv $(V219)
	$(V219)/bin/pip install $(PIP_FLAGS) -r tests/requirements-2.19.txt
	scripts/install_get_pip_standin.sh $(V219)
	touch $@

$(V221)/.ready: tests/requirements-2.21.txt tests/requirements-common.txt
	rm -rf $(V221) && $(PY312) -m venv $(V221)
	$(V221)/bin/pip install $(PIP_FLAGS) -r tests/requirements-2.21.txt
	scripts/install_get_pip_standin.sh $(V221)
	touch $@

venv: $(V219)/.ready $(V221)/.ready

test: pytest sanity lint build docs-check
	@echo "make test: all checks passed"

pytest: pytest-2.21 pytest-2.19

pytest-2.21: $(V221)/.ready
	$(V221)/bin/python -m pytest $(PYTEST_FLAGS) tests

# The older line runs the unit and playbook tests; SDK fidelity does not depend on ansible-core,
# and the tests marked "wide" (more output formats of one check) run in full on 2.21 only.
pytest-2.19: $(V219)/.ready
	$(V219)/bin/python -m pytest $(PYTEST_FLAGS) tests --ignore=tests/fidelity -m "not wide"

sanity: sanity-2.21 sanity-2.19

sanity-2.21: $(V221)/.ready
	scripts/sanity.sh $(V221) 3.12

sanity-2.19: $(V219)/.ready
	scripts/sanity.sh $(V219) 3.11

lint: $(V221)/.ready
	PATH=$(CURDIR)/$(V221)/bin:$$PATH ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build/collections \
		scripts/lint.sh

build: $(V221)/.ready
	scripts/build_and_install.sh $(V221)

# The module reference in docs/modules is rendered from the modules' own documentation.
docs: $(V221)/.ready
	$(V221)/bin/python scripts/render_module_docs.py

docs-check: $(V221)/.ready
	$(V221)/bin/python scripts/render_module_docs.py --check

# Measures requests and wall times against the sandbox and writes docs/benchmarks.md.
bench: $(V221)/.ready
	$(V221)/bin/python -m tests.bench

demo: $(V221)/.ready
	scripts/demo.sh $(V221)

sandbox: $(V221)/.ready
	$(V221)/bin/python -m tests.sandbox

clean:
	rm -rf .venv build tests/output
