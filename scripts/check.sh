#!/usr/bin/env bash
# The whole quality gate, one command: format, lint, types, tests with tally's own coverage.
# Run from the repository root inside the dev environment (.venv set up by the README).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -m ruff format --check src tests
"$PY" -m ruff check src tests
"$PY" -m mypy
# tally's own coverage is measured by coverage.py: tally's count engine would have to
# instrument the very modules that run it. Subprocesses (most tests run `python -m tally`)
# are measured through coverage.py's subprocess patch ([tool.coverage.run] in pyproject).
rm -f .coverage .coverage.*
"$PY" -m coverage run -m pytest -p no:randomly "$@"
"$PY" -m coverage combine -q
"$PY" -m coverage report --fail-under="${TALLY_SELF_COVERAGE_MIN:-95}"
