# The one entry point: make run, make test, make check, make bench.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REDACTOR := src/pilothouse/observability/redaction/redactor.py
NATIVE := $(VENV)/.native

.PHONY: setup native run test test-full test-pure check lint typecheck bench scorecard clean

setup: $(STAMP) $(NATIVE)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

# The redactor compiled with mypyc (tools/build_native.py): rebuilt whenever its source
# changes; without a C compiler everything runs in pure Python.
native: $(NATIVE)

$(NATIVE): $(STAMP) $(REDACTOR)
	@$(BIN)/python tools/build_native.py
	@touch $(NATIVE)

# Serves the example bundle (examples/support-desk) with its tool service on :8090.
# Every request needs an API key: the development key (made once, kept in
# .pilothouse/dev-key) is the bootstrap admin key of this server and is printed here.
run: setup
	@key=$$($(BIN)/pilothouse keys dev); \
	echo "Development API key (use it as the SDK's api_key): $$key"; \
	$(BIN)/python -m examples.desk_service --port 8090 & desk=$$!; \
	trap 'kill $$desk 2>/dev/null' EXIT INT TERM; \
	PILOTHOUSE_ADMIN_KEY=$$key $(BIN)/pilothouse serve --bundle examples/support-desk

test: setup
	$(BIN)/python -m pytest -q

# The property-based tests at full size (hundreds of longer random sequences; minutes).
test-full: setup
	PILOTHOUSE_PROPERTY_SCALE=full $(BIN)/python -m pytest -q tests/e2e/identity/test_tenancy_properties.py

lint: setup
	$(BIN)/ruff check src tests bench examples tools
	$(BIN)/ruff format --check src tests bench examples tools

typecheck: setup
	$(BIN)/mypy src

# The observability tests again with the pure Python redactor (the tests above use the
# compiled one when it is built).
test-pure: setup
	PILOTHOUSE_PURE_PYTHON=1 $(BIN)/python -m pytest -q tests/unit/observability

check: lint typecheck test test-pure

bench: setup
	$(BIN)/python bench/gateway_overhead.py
	$(BIN)/python bench/agent_loop.py

# The weekly reliability scorecard of the store PILOTHOUSE_STORE names, as one HTML file.
scorecard: setup
	$(BIN)/pilothouse scorecard --since 7d --format html --out .artifacts/scorecard.html

clean:
	rm -rf $(VENV) .pilothouse .pytest_cache .mypy_cache .ruff_cache
	rm -f src/pilothouse/observability/redaction/_redactor_native*.so
