# Gatehouse — see README.md. `make run` and `make test` work on a fresh machine.
CARGO ?= cargo
CONFIG ?= conf/gatehouse.toml

.PHONY: deps build run test lint bench bench-router check-config certs

# Build prerequisites from Debian's packages (cmake for libz-ng-sys; OpenSSL headers).
deps:
	@missing=""; command -v cmake >/dev/null || missing="$$missing cmake"; \
	  command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	  dpkg -s libssl-dev >/dev/null 2>&1 || missing="$$missing libssl-dev"; \
	  if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing; \
	    else echo "please install:$$missing (e.g. sudo apt-get install$$missing)"; exit 1; fi; \
	  fi

build: deps
	$(CARGO) build --release

# Starts the demo upstream (an echo server) and the gateway on conf/gatehouse.toml.
run: build
	@target/release/gatehouse demo-upstream --listen 127.0.0.1:9000 & \
	  up=$$!; trap "kill $$up 2>/dev/null" EXIT INT TERM; \
	  echo "demo upstream on 127.0.0.1:9000, gateway on 127.0.0.1:8080, admin on 127.0.0.1:9080"; \
	  echo "try: curl -i localhost:8080/demo/hello"; \
	  target/release/gatehouse serve -c $(CONFIG)

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

test: lint
	$(CARGO) test --lib --bins --tests --benches

check-config:
	$(CARGO) run --quiet -- check -c $(CONFIG)

# End-to-end load test against nginx in the same run (installs nginx and wrk if missing).
bench:
	bash bench/e2e.sh

# Router micro-benchmark: 10 vs 10,000 routes.
bench-router:
	$(CARGO) bench --bench router

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
