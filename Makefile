# Ferry's front door. `make test` and `make demo` install what they need from Debian's
# packages when it is missing, configure, build, then test or run.

BUILD       ?= build
ASAN_BUILD  ?= build-asan
BENCH_BUILD ?= build-release
TSAN_BUILD  ?= build-tsan
PACKAGE_BUILD ?= build-package
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)

# Debian packages the build, the tests, the demo and the benchmark need (PostgreSQL: the
# tests start throwaway servers with tests/pg/pgtmp.sh).
DEB_PACKAGES = cmake make gcc pkg-config libc6-dev clang-format \
               libfyaml-dev libcurl4-openssl-dev libsqlite3-dev libjansson-dev libcmocka-dev \
               libmicrohttpd-dev libsodium-dev libssl-dev libgnutls28-dev \
               sqlite3 python3 time openssl \
               postgresql libpq-dev libsystemd-dev dpkg-dev file tzdata

MAKEFLAGS += --no-print-directory

# Only `make bench` needs these.
BENCH_PACKAGES = wrk nginx-light

# Only `make fuzz` needs these: clang, with libFuzzer (Debian's clang recommends its runtime
# package, which apt installs with it).
FUZZ_PACKAGES = clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS  = $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))

# The browser tests (tests/browser) drive Debian's chromium with playwright-core, an npm
# package installed with `npm ci` from the committed lockfile (it downloads no browser). Node
# and npm come from Debian's packages only when the machine has none.
BROWSER_PACKAGES = chromium
BROWSER_DIR      = tests/browser
BROWSER_STAMP    = $(BROWSER_DIR)/node_modules/.installed

# promtool (Debian's prometheus package) checks /metrics's text and examples/prometheus's alert
# rules in tests/integration/test_metrics.py.
METRICS_PACKAGES = prometheus

# The webhook receivers of examples/receivers, run by tests/integration/test_receivers.py:
# Express (node, npm and the example's own npm packages, `npm ci` from its committed lockfile),
# Django (Debian's python3-django, for Debian's /usr/bin/python3) and Rails (the controller on
# Debian's ActionPack, without the rest of Rails).
RECEIVER_PACKAGES = python3-django ruby ruby-actionpack
RECEIVER_DIR      = examples/receivers/express
RECEIVER_STAMP    = $(RECEIVER_DIR)/node_modules/.installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps deps-bench deps-browser deps-metrics deps-receivers install-packages build build-tsan build-asan test test-sanitize unit \
        browser docs-images demo bench fuzz format format-check clean install package

all: build

# Installs whatever of DEB_PACKAGES is missing; does nothing (and needs no network) when all
# are present.
deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEB_PACKAGES)"

deps-bench: deps
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(BENCH_PACKAGES)"

# Debian's nodejs and npm, named only when the machine has no node or npm.
NODE_PACKAGES = $$(command -v node >/dev/null 2>&1 || echo nodejs) \
                $$(command -v npm >/dev/null 2>&1 || echo npm)

# chromium, node and npm (when missing), then tests/browser/node_modules.
deps-browser: deps
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(BROWSER_PACKAGES) $(NODE_PACKAGES)"
	@$(MAKE) --no-print-directory $(BROWSER_STAMP)

# promtool, for the metrics test.
deps-metrics: deps
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(METRICS_PACKAGES)"

# python3-django, ruby, ActionPack, node and npm (when missing), then the Express receiver's
# node_modules.
deps-receivers: deps
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(RECEIVER_PACKAGES) $(NODE_PACKAGES)"
	@$(MAKE) --no-print-directory $(RECEIVER_STAMP)

# DIR/node_modules/.installed (BROWSER_STAMP, RECEIVER_STAMP): npm ci in DIR only when
# node_modules is missing or older than the lockfile (npm ci removes node_modules first, so
# the stamp goes with it).
%/node_modules/.installed: %/package-lock.json %/package.json
	npm ci --prefix $* --no-audit --no-fund
	@touch $@

install-packages:
	@missing=""; for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" \
	        || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "Installing missing Debian packages:$$missing"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Debug

$(ASAN_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFERRY_SANITIZE=ON

$(TSAN_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFERRY_TSAN=ON

build-tsan: deps $(TSAN_BUILD)/CMakeCache.txt
	cmake --build $(TSAN_BUILD) -j $(JOBS)

$(BENCH_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release -DFERRY_TESTS=OFF

# The build `make install` and `make package` use: Release, without the tests, the prefix
# /usr (the package's; `make install PREFIX=DIR` names another when installing).
$(PACKAGE_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(PACKAGE_BUILD) -DCMAKE_BUILD_TYPE=Release -DFERRY_TESTS=OFF \
	    -DCMAKE_INSTALL_PREFIX=/usr

$(FUZZ_BUILD)/CMakeCache.txt: | deps
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(FUZZ_PACKAGES)"
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFERRY_LIBFUZZER=ON \
	    -DFERRY_WERROR=OFF

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Every test: unit, fuzz replays, integration and browser tests on the development build, and
# the integration tests again with Ferry's store and targets on PostgreSQL (a throwaway server
# each ctest run starts and stops: tests/pg/fixture.sh); then `make test-sanitize`.
test: deps-browser deps-metrics deps-receivers build format-check
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-sanitize

# The sanitizer builds: all but the PostgreSQL rerun and the chaos test under
# AddressSanitizer and UndefinedBehaviorSanitizer, then the threaded parts (event hub and bus,
# the server, the queue and its workers, a run's reader thread) under ThreadSanitizer.
test-sanitize: deps-browser deps-receivers build-asan build-tsan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    ctest --output-on-failure -j $(JOBS) -LE 'pgsuite|chaos'
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1 \
	    ctest --output-on-failure -j $(JOBS) -L 'events|serve|queue|sync'

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

# The browser tests alone; screenshots of the views land in $(BUILD)/screenshots.
browser: deps-browser build
	cd $(BUILD) && ctest --output-on-failure -L browser

# The screenshots the docs show (docs/images), as the last browser test run took them. Run
# `make browser` (or ctest -R browser/test_review) first; commit the PNGs it copies.
DOC_SCREENSHOTS = review-preview review-held component-held

docs-images:
	@mkdir -p docs/images
	@for s in $(DOC_SCREENSHOTS); do \
	    test -f $(BUILD)/screenshots/$$s.png || { echo "$(BUILD)/screenshots/$$s.png is missing: run the browser tests first" >&2; exit 1; }; \
	    cp $(BUILD)/screenshots/$$s.png docs/images/$$s.png; \
	done

# Syncs the bundled therapists roster into SQLite and prints the summary.
demo: build
	@rm -rf $(BUILD)/demo && mkdir -p $(BUILD)/demo
	@cp examples/ferry.yaml examples/therapists.csv examples/locations.csv $(BUILD)/demo/
	@# 200,000 generated patients: a sync long enough to watch on the page.
	@awk 'BEGIN { print "Patient ID,Name,Email,Born,Location"; \
	    for (i = 1; i <= 200000; i++) \
	        printf "P%06d,Patient %d,patient%d@example.com,19%02d-%02d-%02d,L0%d\n", \
	            i, i, i, 40 + i % 60, 1 + i % 12, 1 + i % 28, 1 + i % 6 }' \
	    > $(BUILD)/demo/patients.csv
	@sed -i -E "s|url: ([a-z]+\.csv)|url: file://$(CURDIR)/$(BUILD)/demo/\1|" $(BUILD)/demo/ferry.yaml
	$(BUILD)/ferry sync therapists --config $(BUILD)/demo/ferry.yaml
	@echo
	$(BUILD)/ferry show 1 --config $(BUILD)/demo/ferry.yaml
	@echo
	@# A demo admin with a fresh random password, kept in a file only its owner can read.
	@umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' > $(BUILD)/demo/admin-password
	@$(BUILD)/ferry user add admin --role admin --password-stdin --config $(BUILD)/demo/ferry.yaml \
	    < $(BUILD)/demo/admin-password >/dev/null
	@echo "Ferry's admin page: http://127.0.0.1:8080/"
	@echo "  log in as admin, password $$(cat $(BUILD)/demo/admin-password)"
	@echo "  (also in $(BUILD)/demo/admin-password); Ctrl-C stops the server."
	@echo "  From a program: curl -c cookies -H 'Content-Type: application/json' \\"
	@echo "    -d '{\"user\": \"admin\", \"password\": \"...\"}' http://127.0.0.1:8080/api/login"
	@echo
	$(BUILD)/ferry serve --config $(BUILD)/demo/ferry.yaml

# Each benchmark prints its figures and records them in BENCH_RESULTS; the last step prints the
# speed targets beside them (bench/targets.py). ROWS, ROWS_LARGE and CLIENTS change the sizes
# (a size other than the targets' leaves their rows "not measured").
BENCH_RESULTS = $(BENCH_BUILD)/bench-results.jsonl
BENCH_ENV     = FERRY_BENCH_RESULTS=$(CURDIR)/$(BENCH_RESULTS)

bench: deps-bench $(BENCH_BUILD)/CMakeCache.txt
	cmake --build $(BENCH_BUILD) -j $(JOBS)
	@rm -f $(BENCH_RESULTS)
	$(BENCH_ENV) /usr/bin/python3 bench/bench_sync.py --ferry $(BENCH_BUILD)/ferry --rows $${ROWS:-1000000}
	$(BENCH_ENV) /usr/bin/python3 bench/bench_sync.py --ferry $(BENCH_BUILD)/ferry --rows $${ROWS:-1000000} --app-table
	$(BENCH_ENV) /usr/bin/python3 bench/bench_sync.py --ferry $(BENCH_BUILD)/ferry --rows $${ROWS_LARGE:-10000000} \
	    --small $${ROWS:-1000000} --repeat 1
	$(BENCH_ENV) /usr/bin/python3 bench/bench_pg.py --ferry $(BENCH_BUILD)/ferry --rows $${ROWS:-1000000}
	$(BENCH_ENV) /usr/bin/python3 bench/bench_pg.py --ferry $(BENCH_BUILD)/ferry --rows $${ROWS:-1000000} --app-table
	$(BENCH_ENV) /usr/bin/python3 bench/bench_lookup.py --ferry $(BENCH_BUILD)/ferry --rows $${ROWS:-1000000}
	$(BENCH_ENV) /usr/bin/python3 bench/bench_rest.py --ferry $(BENCH_BUILD)/ferry
	$(BENCH_ENV) /usr/bin/python3 bench/bench_serve.py --ferry $(BENCH_BUILD)/ferry --clients $${CLIENTS:-10000}
	@/usr/bin/python3 bench/targets.py $(BENCH_RESULTS)

# Every fuzz target under libFuzzer (with AddressSanitizer and UndefinedBehaviorSanitizer) for
# FUZZ_SECONDS each, starting from its committed corpus; new inputs go to
# $(FUZZ_BUILD)/inputs/TARGET, crashes to $(FUZZ_BUILD)/crash/ (tests/fuzz/README.md). Stops at
# the first target that finds something.
fuzz: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)
	@mkdir -p $(FUZZ_BUILD)/crash
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/inputs/$$t; \
	    case $$t in \
	        fuzz_config) extra="-detect_leaks=0";; \
	        fuzz_csv_reader) extra=""; spectrum=../shared/testdata/csv-spectrum/csvs; \
	            [ -d $$spectrum ] && extra=$$spectrum;; \
	        *) extra="";; \
	    esac; \
	    echo "== $$t: $(FUZZ_SECONDS) s"; \
	    $(FUZZ_BUILD)/tests/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -max_len=16384 \
	        -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crash/$$t- \
	        $(FUZZ_FLAGS) $(FUZZ_BUILD)/inputs/$$t tests/fuzz/corpus/$$t $$extra || exit 1; \
	done

# Installs the binary, its configuration, the docs, the systemd unit and the sysusers.d file
# below PREFIX (default /usr/local; the configuration in PREFIX/etc/ferry, or /etc/ferry
# when PREFIX is /usr). DESTDIR is honoured.
PREFIX ?= /usr/local
install: deps $(PACKAGE_BUILD)/CMakeCache.txt
	cmake --build $(PACKAGE_BUILD) -j $(JOBS) --target ferry
	cmake --install $(PACKAGE_BUILD) --prefix $(PREFIX) --strip

# The Debian package, $(PACKAGE_BUILD)/ferry_VERSION_ARCH.deb (docs/operations.md).
package: deps $(PACKAGE_BUILD)/CMakeCache.txt
	cmake --build $(PACKAGE_BUILD) -j $(JOBS) --target ferry
	cd $(PACKAGE_BUILD) && cpack -G DEB --config CPackConfig.cmake
	@ls $(PACKAGE_BUILD)/ferry_*.deb

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]')

format-check: deps
	@clang-format --dry-run --Werror $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]') \
	    && echo "clang-format: all sources formatted"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(BENCH_BUILD) $(PACKAGE_BUILD)
