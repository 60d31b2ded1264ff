# xiaohu: `make demo` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTHON ?= python3
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/xiaohu_test
DEMO_DB ?= sqlite:///var/xiaohu.db
DEMO_LINES ?= 10000

.PHONY: demo demo-reset test install lock lint imports types test-sqlite test-postgres test-browser browser pg-db \
        bench bench-import bench-settle bench-recycled bench-runs bench-national screenshots clean i18n pg-nodes

# Installs exactly the locked versions (hash-checked), then the project itself without
# resolving anything again; `pip check` fails when the lock no longer fits pyproject.toml.
LOCK := requirements/dev.txt
$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/pip check
	touch $@

# Regenerate the lock files from pyproject.toml: runtime (what a deployment installs) and dev
# (with the dev and demo extras), keeping current pins; `make lock LOCK_ARGS=--upgrade` moves
# every pin to the newest release within the bounds.
LOCK_ARGS ?=
PIP_COMPILE = $(BIN)/pip-compile -q --generate-hashes --allow-unsafe --strip-extras \
              --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
lock:
	test -x $(BIN)/pip-compile || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install -q pip-tools; }
	$(PIP_COMPILE) -o requirements/runtime.txt pyproject.toml
	$(PIP_COMPILE) --all-extras -c requirements/runtime.txt -o $(LOCK) pyproject.toml

install: $(VENV)/.installed

# Safe to run again: demo-load adds only numbers not loaded yet, so earlier tries are kept
# (`make demo-reset` starts afresh); demo-numbers runs the real check at the sandbox's time.
demo: install
	@$(PY) -c 'import faker' 2>/dev/null || $(BIN)/pip install -q -e '.[demo]'
	mkdir -p var
	XIAOHU_DATABASE_URL=$(DEMO_DB) XIAOHU_MODE=sandbox $(BIN)/xiaohu migrate
	test -s var/demo.jsonl || $(BIN)/xiaohu demo-data --lines $(DEMO_LINES) --seed 2026 --out var/demo.jsonl
	XIAOHU_DATABASE_URL=$(DEMO_DB) XIAOHU_MODE=sandbox $(BIN)/xiaohu demo-load var/demo.jsonl
	XIAOHU_DATABASE_URL=$(DEMO_DB) XIAOHU_MODE=sandbox $(BIN)/xiaohu demo-numbers
	XIAOHU_DATABASE_URL=$(DEMO_DB) XIAOHU_MODE=sandbox $(BIN)/xiaohu serve --host 127.0.0.1 --port 8000

demo-reset: install
	XIAOHU_DATABASE_URL=$(DEMO_DB) XIAOHU_MODE=sandbox $(BIN)/xiaohu demo-reset

lint: install
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools
	$(MAKE) imports

# The layers of the README's Architecture section (contracts in pyproject.toml).
imports: install
	$(BIN)/lint-imports --no-cache

types: install
	$(BIN)/mypy

# Debian's Chromium for the browser tests (Playwright cannot download its own browsers here),
# the CJK fonts the receipt PDF and the pages need, and poppler to read receipts back in tests.
SYSTEM_PACKAGES := chromium fonts-noto-cjk poppler-utils
browser:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

pg-db:
	@psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='xiaohu_test'" | grep -q 1 || \
	  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE xiaohu_test"

# A national deployment's tests and benchmark: two more PostgreSQL servers beside the machine's
# own (Debian's clusters xiaohu2 on 5433 and xiaohu3 on 5434, trust auth on this machine only),
# made and started if they are not, and a database on each server for the three test nodes.
PG_VERSION ?= $(shell ls /usr/lib/postgresql | sort -n | tail -1)
NODE_PORTS := 5433 5434
pg-nodes: pg-db
	@for port in $(NODE_PORTS); do \
	  name=xiaohu$$(( port - 5431 )); \
	  pg_lsclusters -h | awk '{print $$2}' | grep -qx $$name || \
	    pg_createcluster -q $(PG_VERSION) $$name -p $$port -- --auth=trust >/dev/null; \
	  pg_lsclusters -h | awk -v n=$$name '$$2==n {print $$4}' | grep -q online || \
	    pg_ctlcluster $(PG_VERSION) $$name start; \
	done
	@for port in 5432 $(NODE_PORTS); do \
	  db=xiaohu_n$$(( port - 5431 )); \
	  psql -h 127.0.0.1 -p $$port -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$$db'" | grep -q 1 || \
	    psql -h 127.0.0.1 -p $$port -U postgres -d postgres -qc "CREATE DATABASE $$db"; \
	done

test-sqlite: install browser
	$(BIN)/pytest -q -p no:cacheprovider

# The PostgreSQL pass also runs the national deployment's tests (tests/national: three
# PostgreSQL servers and the broker), which the SQLite pass skips.
test-postgres: install pg-db pg-nodes
	XIAOHU_TEST_DATABASE_URL=$(PG_URL) $(BIN)/pytest -q -p no:cacheprovider -m "not browser"

# The two engines' passes side by side, one a core; each prints its whole output when it ends
# (so the lines of the two never interleave), and `make test` fails if either does.
test: lint types
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

bench-import: install pg-db
	$(PY) benchmarks/bench_import.py --lines 1000000

# A month of 1,000,000 cross-region events settled on PostgreSQL (database xiaohu_bench_settle).
bench-settle: install pg-db
	$(PY) benchmarks/bench_settle.py --events 1000000

# Batches of 1,000 numbers against the recycled-number check of a served process, on
# PostgreSQL with ~1,000,000 cancellations (database xiaohu_bench_recycled).
bench-recycled: install pg-db
	$(PY) benchmarks/bench_recycled.py --cancellations 1000000 --batches 300

# The monthly close-cycle (and the daily lifecycle run) over 1,000,000 lines on SQLite and
# PostgreSQL (database xiaohu_bench_runs), each beside the same work as raw set-based SQL.
bench-runs: install pg-db
	$(PY) benchmarks/bench_runs.py --lines 1000000

# The same checks, cancellations and cross-region cash work on 1, 2 and 3 nodes (the servers of
# pg-nodes, databases xiaohu_bench_n1..3) and the broker on 127.0.0.1:5672 (namespace
# xiaohubench): CPU per operation per node and message latency; about 5 minutes.
bench-national: install pg-nodes
	$(PY) benchmarks/bench_national.py --lines 30000

bench: install pg-db
	@command -v wrk >/dev/null 2>&1 || { echo "installing Debian's wrk (HTTP load generator)"; \
	  (apt-get update -qq && apt-get install -y -qq wrk >/dev/null) || \
	  (sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null); }
	$(PY) benchmarks/bench_service.py

# Messages of the pages and the receipt: extract them (babel.cfg), merge them into each
# language's catalog, compile the .mo files the package loads (committed with the .po).
LOCALE_DIR := src/xiaohu/web/locale
i18n: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output \
	  --project xiaohu --msgid-bugs-address "" -o $(LOCALE_DIR)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) --no-fuzzy-matching \
	  --ignore-pot-creation-date
	$(BIN)/pybabel compile -d $(LOCALE_DIR) --statistics

screenshots: install browser
	$(PY) -m tools.screenshots docs/screenshots

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .mypy_cache .ruff_cache
