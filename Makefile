# StashHog: `make run` starts everything on the embedded defaults, `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Both lock files come from pyproject.toml; `make lock LOCKFLAGS=--upgrade` moves every pin.
LOCK := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 \
	--custom-compile-command "make lock" $(LOCKFLAGS) pyproject.toml

.PHONY: run test lint migrations-check schema schema-check lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Runtime pins only: what `make run` and the Docker image need.
$(BIN)/.installed-runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# Runtime pins plus the dev group (tests, lint, type checks, `make lock`).
$(BIN)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(BIN)/.installed-runtime

run: $(BIN)/.installed-runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python -m stashhog.launcher

test: $(BIN)/.installed-dev
	$(BIN)/pytest

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

migrations-check: $(BIN)/.installed-dev
	$(BIN)/python manage.py makemigrations --check --dry-run

# schema.yml is the committed API contract: regenerate it after changing an endpoint, a
# serializer or an example; CI fails when it differs from what the code generates.
SPECTACULAR := $(BIN)/python manage.py spectacular --validate --fail-on-warn

schema: $(BIN)/.installed-dev
	$(SPECTACULAR) --file schema.yml

schema-check: $(BIN)/.installed-dev
	$(SPECTACULAR) --file $(VENV)/schema.generated.yml
	diff -u schema.yml $(VENV)/schema.generated.yml \
		|| { echo "schema.yml is out of date: run 'make schema' and commit it"; exit 1; }

# Re-pins requirements.txt (runtime) and requirements-dev.txt (runtime + dev group) after a
# change to pyproject.toml. Existing pins are kept unless LOCKFLAGS=--upgrade.
lock: | $(BIN)/python
	test -x $(BIN)/uv || $(BIN)/pip install --quiet uv
	$(LOCK) -o requirements.txt
	$(LOCK) --group pyproject.toml:dev -c requirements.txt -o requirements-dev.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .import_linter_cache
