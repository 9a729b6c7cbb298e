# webleads-tracker: `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# pytest-xdist workers: one per core (each starts its own PostgreSQL, addok and stand-ins).
TEST_WORKERS ?= auto
# Debian packages the test suite uses (real PostgreSQL, redis for the addok geocoder,
# Chromium for the console's browser tests, wrk for the webhook benchmark, nginx for
# deploy/'s configs and bench/scaleout.py, poppler-utils' pdffonts and pdftoppm for the
# launch kit's print checks, dovecot's IMAP and aiosmtpd's SMTP for e-mail: aiosmtpd from
# Debian, run by the system's Python, since its atpublic installs a module named `public`).
SYSTEM_PACKAGES := postgresql redis-server chromium wrk npm nginx poppler-utils dovecot-imapd \
	python3-aiosmtpd

.PHONY: run test install install-test system-deps browser-deps lint format messages bench clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs come from the lock (every package of the tree pinned, with its hashes);
# pyproject.toml keeps the floors. `make lock` refreshes the lock from them.
$(VENV)/.installed: requirements/run.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements/run.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-test: requirements/test.txt $(VENV)/.installed
	$(BIN)/pip install --quiet --require-hashes -r requirements/test.txt
	touch $@

lock: | $(BIN)/python
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
		--quiet $(LOCK_ARGS) -o requirements/run.txt
	$(BIN)/uv pip compile pyproject.toml --extra test --generate-hashes --python-version 3.11 \
		--quiet $(LOCK_ARGS) -o requirements/test.txt

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# `make run PORT=5300` (and HOST=0.0.0.0 to be reached from another machine).
HOST ?= 127.0.0.1
PORT ?= 5000

run: install
	$(BIN)/webleads init-db
	$(BIN)/webleads seed-demo
	$(BIN)/webleads run --host $(HOST) --port $(PORT)

# Installs the missing Debian packages when we may (root with apt-get); otherwise the
# tests that need them are skipped with the reason, except under CI where they fail.
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v pdffonts >/dev/null || missing="$$missing poppler-utils"; \
	[ -x /usr/sbin/dovecot ] || missing="$$missing dovecot-imapd"; \
	/usr/bin/python3 -c "import aiosmtpd" 2>/dev/null || missing="$$missing python3-aiosmtpd"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing:$$missing"; \
		apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; \
	else \
		echo "Missing Debian packages:$$missing (sudo apt-get install$$missing); their tests will be skipped."; \
	fi

# axe-core (npm) for the accessibility tests, pinned by tests/browser/package-lock.json.
tests/browser/node_modules/.installed: tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/browser --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the accessibility tests will be skipped (CI fails)"; fi

browser-deps: system-deps tests/browser/node_modules/.installed

# `make test` checks the lint first (ruff, its formatting, the import contracts).
test: lint system-deps browser-deps
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Extracts the texts, merges them into the French catalogs (bot, console), compiles them.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k t -k N_ -k translate:2 -k _ --no-location \
		--sort-output -o instance/messages.pot .
	$(BIN)/pybabel update -i instance/messages.pot -d services/translations --no-fuzzy-matching -w 100
	$(BIN)/pybabel compile -d services/translations --statistics
	$(BIN)/pybabel extract -F console/babel.cfg -k _ -k _l -k N_ --no-location --sort-output \
		-o instance/console.pot .
	$(BIN)/pybabel update -i instance/console.pot -d console/translations --no-fuzzy-matching -w 100
	$(BIN)/pybabel compile -d console/translations --statistics

bench: install-test
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) instance/webleads.db* .pytest_cache
