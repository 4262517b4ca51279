# faultline — the two commands a newcomer needs:
#   make demo   install what is missing, build, run the default scenario, print the report
#   make test   install what is missing, run the tests
SHELL := /bin/bash
CARGO ?= cargo
SCENARIO ?= scenarios/leader-partition.yaml
APT_PACKAGES := etcd-server etcd-client protobuf-compiler iptables nftables iproute2 util-linux jq
# What only the tests need: Chromium renders report.html in a test (about 155 MB to download,
# 480 MB installed, under 30 s here), docker-compose drives attach mode. Under CI (CI=true) a
# test whose tool is missing fails (tests/it/main.rs), so `make test` installs them.
TEST_APT_PACKAGES := chromium docker-compose

.PHONY: deps test-deps build demo test bugs clean-runs doctor compose-up compose-down

# Install Debian packages (as root), only those missing.
define apt_install
	@missing=""; \
	for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to apt-get install:$$missing" >&2; exit 3; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

# The Debian packages faultline needs.
deps:
	$(call apt_install,$(APT_PACKAGES))
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust (rustup)" >&2; exit 3; }
	@./scripts/etcd-versions.sh

# ... and those its tests need besides.
test-deps: deps
	$(call apt_install,$(TEST_APT_PACKAGES))

build: deps
	$(CARGO) build --release

demo: build
	./target/release/faultline doctor
	./target/release/faultline run $(SCENARIO)

doctor: build
	./target/release/faultline doctor

test: test-deps
	$(CARGO) test --no-fail-fast -- --test-threads=1

# Hunt each historical etcd bug of scenarios/bugs/ on the versions its header names, BUG_RUNS
# runs each (default 3; about 45 s a run), and write the table into docs/findings.md.
# BUGS=14370 hunts one; BUG_BACKEND=docker runs them in containers.
bugs: build
	./scripts/bugs.sh

clean-runs: build
	./target/release/faultline clean

# The cluster of docker-compose.yml (project `faultline`), from the locally built image:
# look at it by hand, or let faultline attach to it (examples/attach-compose.yaml).
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
compose-up: build
	./target/release/faultline image build
	FAULTLINE_ETCD_VERSION=$$(etcd --version | awk '/etcd Version/ {print $$3}') $(COMPOSE) -p faultline up -d
	@echo "etcd at http://10.79.0.11:2379 http://10.79.0.12:2379 http://10.79.0.13:2379; try: ETCDCTL_API=3 etcdctl --endpoints=http://10.79.0.11:2379 endpoint status -w table --cluster"

compose-down:
	$(COMPOSE) -p faultline down -v
