# maildiag developer commands. `make test` works on a fresh Debian machine with Python 3.11.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the tests start: Knot DNS, unbound as a recursive resolver in front of
# it, and Chromium for the HTML report tests.
DEBIAN_PACKAGES := knot knot-dnsutils unbound chromium iproute2
DEMO_SAMPLE := samples/headers/ses-to-m365-spoof.txt

.PHONY: install system-packages demo test test-all bench acceptance clean

# pip's output goes to a log that is printed only when the install fails, because the
# editable build of a package with mapped folders prints long setuptools notices.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@echo "installing maildiag and its test dependencies into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/pip install --quiet --upgrade pip "setuptools>=77" wheel > $(VENV)/install.log 2>&1 \
	  && $(BIN)/pip install --quiet -e '.[test]' >> $(VENV)/install.log 2>&1 \
	  || { cat $(VENV)/install.log; exit 1; }
	touch $(STAMP)

install: $(STAMP)

# Installs missing Debian packages when running as root; otherwise says what is missing.
system-packages:
	@missing=""; for package in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing (run 'sudo apt-get install$$missing'); their tests will be skipped"; \
	  fi; \
	fi

demo: $(STAMP)
	$(BIN)/maildiag analyze $(DEMO_SAMPLE) --offline || test $$? -eq 1

# As root, pytest runs in a network namespace whose only interface is loopback, so no
# test can reach a public resolver or AWS even by mistake; elsewhere it runs as is.
test: $(STAMP) system-packages
	@if [ "$$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then \
	  echo "running the tests in a loopback-only network namespace"; \
	  unshare -n sh -c 'ip link set lo up && exec $(BIN)/python -m pytest -q'; \
	else \
	  $(BIN)/python -m pytest -q; \
	fi

acceptance: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" ../shared/acceptance/run

bench: $(STAMP) system-packages
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info
