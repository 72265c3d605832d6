# plantctl: the front door. `make demo` and `make test` do all set-up on a fresh machine.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
TOOLS := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(CURDIR)/$(VENV)/bin:$(PATH)
# Pulumi (built by tools/install-pulumi.sh): no update check, its home inside the (ignored) .state/.
export PULUMI_SKIP_UPDATE_CHECK := 1
export PULUMI_HOME := $(CURDIR)/.state/pulumi-home

.PHONY: help setup setup-apt setup-venv setup-tools demo test lint pytest validate check
.PHONY: setup-pulumi lab-up lab-down preview preview-all
.PHONY: policy audit bundle bench-paths
.PHONY: setup-wheelhouse lab-test lab-clean collector-bench
.PHONY: setup-gate setup-gate-venv setup-gitea gate actionlint

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

setup: setup-apt setup-venv setup-tools setup-pulumi setup-wheelhouse setup-gitea  ## install everything (idempotent, quick when done)

setup-apt:
	@tools/install-apt.sh

# The venv is rebuilt only when the lock or the project metadata change.
setup-venv: $(VENV)/.installed
$(VENV)/.installed: requirements.lock pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

setup-tools:
	@tools/install-go-tools.sh

setup-gitea:  # the Gitea server of the end-to-end gate tests (tests/gitea/), cached per machine
	@tools/install-gitea.sh

# The gate only (the gate job of .github/workflows/gate.yml): no Debian packages, no Pulumi, no
# wheelhouse; the venv holds plantctl and its runtime packages at the lock's versions, and OPA.
setup-gate: setup-gate-venv  ## the gate's set-up only: the venv (plantctl at the lock's versions) and OPA
	@tools/install-go-tools.sh opa

# Keyed on the content of the lock and the project metadata (not their times: a cache restored
# into a fresh checkout is up to date), and on this checkout's source being the one installed.
setup-gate-venv:
	@want="$$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1) $(CURDIR)"; \
	if [ "$$(cat $(VENV)/.gate-installed 2>/dev/null)" != "$$want" ]; then \
	  test -x $(PY) || python3 -m venv $(VENV); \
	  $(PY) -m pip install -q --disable-pip-version-check -c requirements.lock -e . && \
	  echo "$$want" > $(VENV)/.gate-installed; fi

setup-pulumi:  # the Pulumi engine from source (cached: a second run takes a second)
	@tools/install-pulumi.sh

setup-wheelhouse: setup-venv  # the collector's offline wheelhouse for gateways (cached by input hash)
	@tools/build-wheelhouse.sh

lab-test: setup  ## the gateway roles on booted lab machines (root): converge twice, verify
	$(PY) -m pytest -m lab tests/lab tests/ansible

# Fleet provisioning as AWX runs it (tests/ansible/awx_job.py): a fresh lab fleet per size, first
# and second converge through ansible-runner with forks and Mitogen (build/bench-fleet.json).
.PHONY: bench-fleet
bench-fleet: setup  ## fleet converges through ansible-runner at 2, 5 and 10 gateways (root)
	$(PY) bench/fleet.py

# Site brokers bridged to the enterprise broker (lab/bridged_sites.py): latency, a WAN outage,
# the bridges' drain and burst throughput (build/bench-bridge.json).
.PHONY: bench-bridge
bench-bridge: setup  ## bridge latency p50/p99, outage loss, throughput (root)
	$(PY) bench/bridge.py

lab-clean:  ## remove leftovers of lab runs whose owner died (namespaces, machines, mounts)
	$(PY) -m plantctl.lab cleanup

collector-bench: setup  ## collector throughput with TLS and QoS 1 (samples per second)
	$(PY) bench/collector_throughput.py

# The lab and the plans of stacks/ (see stacks/README.md). SITE picks the inventory site.
SITE ?= ridgeway
STACKRUN := PYTHONPATH=$(CURDIR)/stacks $(PY) -m plantstack.run

lab-up: setup  ## the lab of SITE (default ridgeway) for real: zones, firewall, broker, bastion
	$(STACKRUN) up --stack lab-$(SITE)
	@p=$$($(PY) -c 'from plantctl.providers.lab import stack_prefix; print(stack_prefix("lab-$(SITE)"))'); \
	echo "lab-$(SITE) is up: namespaces $$(ip netns list | grep -c "^$$p-") (ip netns list | grep ^$$p-)," \
	  "router/firewall: ip netns exec $$p-$(SITE)-rt nft list ruleset;" \
	  "keys and certificates: .state/lab/lab-$(SITE)/; nothing in the host's own namespace;" \
	  "make lab-down removes it all"

lab-down: setup  ## destroy the lab of SITE: no namespace, link, mount or process left
	$(STACKRUN) destroy --stack lab-$(SITE)

preview: setup  ## preview stack lab-SITE (or STACK=...) and check its plan (policies/plan)
	@mkdir -p .state
	$(STACKRUN) preview --stack $(or $(STACK),lab-$(SITE)) --json .state/plan-$(SITE).json
	plantctl plan-check --site $(SITE) --plan .state/plan-$(SITE).json

# One stack per site; PULUMI_BACKEND_URL may name a shared backend (postgres://..., docs/scale.md).
preview-all: setup  ## preview every site's stack (or SITES="a b") and check each plan with policies/plan
	@mkdir -p .state
	@for site in $(or $(SITES),$$(plantctl sites)); do \
	  echo "== stack lab-$$site"; \
	  $(STACKRUN) preview --stack lab-$$site --json .state/plan-$$site.json --quiet >/dev/null; \
	  plantctl plan-check --site $$site --plan .state/plan-$$site.json; \
	done

validate: setup  ## check the inventory (schema, references, address plan)
	plantctl validate

bench: setup  ## benchmark plantctl check against parsing, one OPA evaluation and conftest
	$(PY) bench/run.py

bench-paths: setup-venv  ## all attack paths of one site of 1,000 devices among 50 (plantctl paths)
	$(PY) bench/paths.py

check: setup  ## run the policies on the whole inventory, as the gate does
	plantctl check

# The whole story of the sample plant (src/plantctl/demo/): a headed section per step with what it
# proves; as root also its lab (up, verified, gateways converged, data, a vendor grant, down).
demo: setup  ## the sample plant's story, step by step (root: with its lab; KEEP=1 leaves the lab up)
	plantctl demo --site $(SITE) --output build/demo $(if $(KEEP),--keep)

lint: setup-venv actionlint  ## ruff, import layers, ansible-lint, actionlint (also: pre-commit run -a)
	ruff check src tests bench stacks plugins tools
	ruff format --check src tests bench stacks plugins tools
	lint-imports --no-cache
	$(PY) tools/execution_environment.py --check  # execution-environment.yml from the lock and roles
	ansible-builder create -f execution-environment.yml -c build/ee --output-filename Containerfile
	yamllint inventory playbooks roles .github
	ansible-lint playbooks roles
	$(PY) tools/role_docs.py --check
	mypy

actionlint:  # the workflows (.github/workflows/), with actionlint pinned in install-go-tools.sh
	@tools/install-go-tools.sh actionlint
	actionlint -no-color

# The pull-request gate exactly as .github/workflows/gate.yml runs it, from a checkout of the BASE
# revision (this Makefile, this src/ and the base's policies judge; the head is read from git
# objects only): every format from one evaluation into OUT (gate.txt, gate.md, gate.json,
# gate.sarif, decision.json; gate.err and exit-code beside them); NOTE=1 also appends the
# decision record to the head commit's notes (refs/notes/plantctl-gate). Exit: plantctl check's.
OUT ?= build/gate
gate: setup-gate  ## the gate: make gate BASE=sha HEAD=sha [REVIEWS=file AUTHOR=login OUT=dir NOTE=1]
	@test -n "$(BASE)" && test -n "$(HEAD)" || { echo "make gate: give BASE=<sha> HEAD=<sha>" \
	  "[REVIEWS=<reviews JSON>] [AUTHOR=<login>] [OUT=<dir>] [NOTE=1]" >&2; exit 2; }
	@mkdir -p "$(OUT)" && rm -f "$(OUT)"/{gate.txt,gate.md,gate.json,gate.sarif,decision.json,gate.err,exit-code}
	@set +e; PYTHONPATH="$(CURDIR)/src" $(PY) -m plantctl check --base "$(BASE)" --head "$(HEAD)" \
	  $(if $(REVIEWS),--approvals "$(REVIEWS)") $(if $(AUTHOR),--author "$(AUTHOR)") \
	  --output-dir "$(OUT)" 2>"$(OUT)/gate.err"; code=$$?; echo $$code > "$(OUT)/exit-code"; \
	  cat "$(OUT)/gate.err" >&2; \
	  if [ -n "$(NOTE)" ] && [ -f "$(OUT)/decision.json" ]; then \
	    PYTHONPATH="$(CURDIR)/src" $(PY) -m plantctl record add "$(OUT)/decision.json" || exit 2; fi; \
	  exit $$code

# The policies (policies/README.md): formatted, strict, linted, tested with at least
# POLICY_COVERAGE % of their lines covered, the README's rule table in step with the rules'
# METADATA, and conftest running the same rules (each domain namespace, listed in
# policies/lib/domains.rego) on the sample plant's facts at a fixed time.
POLICY_COVERAGE := 95
POLICY_NOW := 2026-11-22T12:00:00Z
POLICY_STATE := .state/policy
POLICY_NAMESPACES = $$(opa eval --data policies --format raw \
	'concat(" ", sort([sprintf("--namespace=plant.%s", [d]) | some d in data.plant.lib.domains.names]))')

policy: setup-venv setup-tools  ## policies: opa fmt/check, regal, opa test --coverage, rule table, conftest
	opa fmt --fail --list policies
	$(PY) tools/policy_input.py --check
	opa check --strict --schema policies/schema policies
	regal lint policies
	@mkdir -p $(POLICY_STATE)
	opa test --timeout 60s --coverage --format json policies > $(POLICY_STATE)/coverage.json
	$(PY) tools/policy_coverage.py $(POLICY_COVERAGE) < $(POLICY_STATE)/coverage.json
	$(PY) tools/policy_table.py --check policies/README.md
	plantctl facts --now $(POLICY_NOW) > $(POLICY_STATE)/facts.json
	conftest test --policy policies $(POLICY_NAMESPACES) $(POLICY_STATE)/facts.json

# The auditors' evidence pack (src/plantctl/reports/audit.py): control matrix, policy test results and
# coverage, current violations and waivers, policy checksums; fails when a rule has no test or
# no control. AUDIT_DIR/evidence.html, evidence.json, policy-tests.xml (JUnit).
AUDIT_DIR := build/audit
AUDIT_POLICIES := policies

audit: setup-venv setup-tools  ## the evidence pack for this revision in AUDIT_DIR (build/audit)
	plantctl audit --policies $(AUDIT_POLICIES) --output $(AUDIT_DIR)

# The signed policy bundle (src/plantctl/gate/bundle.py): opa build of policies/ without the tests,
# signed with SIGNING_KEY (a private key PEM from outside the repository). Evaluate with it:
# plantctl check --bundle $(BUNDLE) --verification-key <public key PEM> (exit 4 if refused).
BUNDLE := build/policies.tar.gz

bundle: setup-venv setup-tools  ## signed policy bundle: make bundle SIGNING_KEY=key.pem [BUNDLE=...]
	@test -n "$(SIGNING_KEY)" || { echo "make bundle: give SIGNING_KEY=<private key PEM> (never commit it)" >&2; exit 2; }
	plantctl bundle build --signing-key $(SIGNING_KEY) --output $(BUNDLE)

pytest: setup
	$(PY) -m pytest

test: setup lint policy audit pytest  ## everything CI runs

# plantctl drift (src/plantctl/reports/drift.py) at scale: 50 sites of 1,000 devices against a
# 50k-asset export in each vendor's shape, 1% drift (bench/drift.py; build/bench-drift.json).
.PHONY: bench-drift
bench-drift: setup-venv  ## drift of a 50k-device inventory against a 50k-asset export (time, memory)
	$(PY) bench/drift.py

bench-pr: setup-venv setup-tools  ## pull requests at 5k and 50k devices: one device cold/warm, one site, global (issue 15)
	$(PY) bench/pr.py
