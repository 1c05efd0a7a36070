# tokenops.tokens: `make demo` and `make test` are all a new user needs; both set up what they use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY311 ?= $(shell scripts/find_python.sh 3.11)
PY312 ?= $(shell scripts/find_python.sh 3.12)
V219 := .venv/ansible-2.19
V221 := .venv/ansible-2.21
VTOOLS := .venv/tools
PIP_FLAGS := --quiet --disable-pip-version-check
PYTEST_FLAGS ?= -q -p no:cacheprovider
# pytest-xdist: one worker per core (-n auto counts the cores this process may use; make test
# chooses its own, scripts/test_stages.sh); every worker
# has its own sandboxes, tmp_path, HOME and TMPDIR (tests/conftest.py). loadgroup spreads tests
# one by one, except those marked xdist_group, which stay on one worker together.
PYTEST_WORKERS ?= auto
PYTEST_XDIST ?= -n $(PYTEST_WORKERS) --dist loadgroup

PHONY_DOCS := docs docs-check
.PHONY: $(PHONY_DOCS) help venv test pytest pytest-2.19 pytest-2.21 pytest-paced sanity sanity-2.19 sanity-2.21 lint build demo sandbox bench clean
.PHONY: publish galaxy-import docs-lint ee units integration fresh-install changelog-check release
.PHONY: nox docsite debian-tools

help:
	@echo "make demo   - start the sandbox, run the rotation playbook against it, print the report"
	@echo "make test   - everything that checks the project (pytest, ansible-test units/integration/sanity,"
	@echo "              ansible-lint, build, galaxy-importer, docs lint, execution environment, changelog)"
	@echo "make bench  - measure requests and wall times, write docs/benchmarks.md"
	@echo "make docs   - render docs/modules and the docs site's guides from their sources"
	@echo "make docsite - build the docs site (antsibull-docs, Sphinx) into build/docsite"
	@echo "make sandbox - serve the five fake APIs on loopback in the foreground (banner: names, export block)"
	@echo "make nox    - antsibull-nox's offline sessions (extra checks, build, docs lint, reuse lint)"

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

# The publishing tools pin their own ansible-core and ansible-lint, so they get their own venv.
$(VTOOLS)/.ready: tests/requirements-tools.txt
	rm -rf $(VTOOLS) && $(PY312) -m venv $(VTOOLS)
	$(VTOOLS)/bin/pip install $(PIP_FLAGS) -r tests/requirements-tools.txt
	touch $@

venv: $(V219)/.ready $(V221)/.ready $(VTOOLS)/.ready

# Every check, each stage timed (scripts/test_stages.sh): every stage at once, the rate-limit
# tests first in the scheduler's priority, the pytest lines next, the other stages in two lanes
# last; a table of each stage's wall and CPU seconds ends the run.
# The three virtualenvs and the Debian tools are set up at once (pip mostly waits on I/O).
test:
	$(MAKE) --no-print-directory -j4 --output-sync=target venv debian-tools
	scripts/test_stages.sh

pytest: pytest-2.21 pytest-2.19 pytest-paced

# Debian's promtool and prometheus-pushgateway, which the metrics and alert-rule tests run.
debian-tools:
	scripts/install_debian_tools.sh

pytest-2.21: $(V221)/.ready debian-tools
	$(V221)/bin/python -m pytest $(PYTEST_FLAGS) $(PYTEST_XDIST) tests -m "not paced"

# The tests marked "paced" (the rate-limit tests) mostly wait for a platform's pace and count the
# 429s a sandbox answers: make test runs them beside everything else, first in the scheduler's
# priority (scripts/test_stages.sh), so that nothing else delays the requests they count.
pytest-paced: $(V221)/.ready
	$(V221)/bin/python -m pytest $(PYTEST_FLAGS) $(PYTEST_XDIST) tests -m paced

# The older line runs the tests marked "core" (tests/conftest.py: the unit tests, and the playbook
# tests of ansible-core's own machinery: output hiding, callbacks, async, roles, plugins,
# ansible-runner); the platforms' behaviour, SDK fidelity and the engine do not depend on the
# line, and the tests marked "wide" (more output formats of one check) run in full on 2.21 only.
pytest-2.19: $(V219)/.ready debian-tools
	$(V219)/bin/python -m pytest $(PYTEST_FLAGS) $(PYTEST_XDIST) tests -m "core and not wide"

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

# The reference in docs/modules is rendered from the modules' and the role's own documentation
# (ansible-doc --json, markup converted by antsibull-docs-parser).
# The guides that docs/docsite/extra-docs.yml lists are rendered from docs/*.md to
# docs/docsite/rst/ (pandoc), the docs site's extra docs.
docs: $(VTOOLS)/.ready
	$(VTOOLS)/bin/python scripts/render_module_docs.py
	$(VTOOLS)/bin/python scripts/render_docsite.py

docs-check: $(VTOOLS)/.ready
	$(VTOOLS)/bin/python scripts/render_module_docs.py --check
	$(VTOOLS)/bin/python scripts/render_docsite.py --check

# The docs site (plugin and role pages, guides, links) as antsibull-docs and Sphinx build it,
# offline, into build/docsite/build/html; fails on any warning of the collection's own.
docsite: $(VTOOLS)/.ready
	scripts/docsite.sh $(VTOOLS)

# What Galaxy, Automation Hub, the community and AWX users check: the import, antsibull-nox's
# sessions (docs lint included), the execution environment's build context, an install into a
# virtualenv with only ansible-core and requests, and the changelog a release would write.
publish: galaxy-import nox ee fresh-install changelog-check docsite

galaxy-import: build $(VTOOLS)/.ready
	scripts/galaxy_import.sh $(VTOOLS)

# The community's collection checks that antsibull-nox.toml declares and that run offline: extra
# checks (action groups, unwanted files, whitespace, tabs), the collection build, antsibull-docs'
# docs lint and the licences (reuse lint). Each session keeps its virtualenv in .nox/.
NOX_SESSIONS := extra-checks build-import-check docs-check license-check
nox: $(VTOOLS)/.ready
	$(VTOOLS)/bin/nox --reuse-existing-virtualenvs --sessions $(NOX_SESSIONS)

docs-lint: $(VTOOLS)/.ready
	$(VTOOLS)/bin/nox --reuse-existing-virtualenvs --sessions docs-check

ee: build $(VTOOLS)/.ready
	scripts/ee_create.sh $(VTOOLS)

fresh-install: build $(V221)/.ready
	scripts/fresh_install.sh $(V221) $(PY312)

changelog-check: $(VTOOLS)/.ready
	scripts/changelog_check.sh $(VTOOLS)

# ansible-test units / integration, from a copy of the collection tree; integration runs against
# the sandbox, or against real accounts when tests/integration/integration_config.yml exists.
units: $(V221)/.ready
	scripts/ansible_test.sh $(V221) 3.12 units

integration: $(V221)/.ready
	scripts/ansible_test.sh $(V221) 3.12 integration

# Release: make release VERSION=1.0.0 (sets galaxy.yml's version, writes CHANGELOG.md and the
# release in changelogs/changelog.yaml from the fragments, re-renders docs/modules).
release: $(VTOOLS)/.ready
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=x.y.z" >&2; exit 2; }
	sed -i 's/^version: .*/version: $(VERSION)/' galaxy.yml
	cd $(CURDIR) && PATH=$(CURDIR)/$(VTOOLS)/bin:$$PATH antsibull-changelog release --version $(VERSION)
	$(VTOOLS)/bin/python scripts/render_module_docs.py

# Measures requests and wall times against the sandbox and writes docs/benchmarks.md.
bench: $(V221)/.ready
	$(V221)/bin/python -m tests.bench

demo: $(V221)/.ready
	scripts/demo.sh $(V221)

sandbox: $(V221)/.ready
	$(V221)/bin/python -m tests.sandbox

clean:
	rm -rf .venv build tests/output
