#!/usr/bin/env bash
# The whole quality gate, one command: format, lint, types, then the test suite on this
# Python (3.11 in CI) and, when ../shared/tools/pythons exists, on CPython 3.13, 3.14 and
# 3.15, with tally's own coverage measured by coverage.py on 3.11 and 3.14 and combined.
# The report formats' consumers (genhtml, diff-cover, pycobertura, Chromium) run in the
# main suite only: the other Pythons' root has none of them (TALLY_TEST_EXTERNAL_TOOLS=0),
# except genhtml from Debian unstable's lcov 2.x, which the 3.14 suite runs (=lcov).
# (coverage.py measures tally because tally's count engine would have to instrument the
# modules that run it. pytest-cov runs it, because it gathers the xdist workers' data over
# their channel: a worker's own data saved at its exit can be lost when xdist ends it.
# `tally run` and the nested pytest runs are subprocesses, measured through coverage.py's
# subprocess patch, [tool.coverage.run] in pyproject.toml; pytest-cov combines them in.)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
MIN=${TALLY_SELF_COVERAGE_MIN:-95}
PYTHONS=../shared/tools/pythons

# The programs that read tally's reports in the tests: genhtml (Debian's lcov) and a
# headless Chromium with its WebDriver (chromium, chromium-driver).
if ! command -v genhtml >/dev/null || ! command -v chromedriver >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    install="apt-get install -y -q lcov chromium chromium-driver"
    DEBIAN_FRONTEND=noninteractive $install >/dev/null ||
      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $install >/dev/null; }
  else
    echo "check.sh: the tests need genhtml, chromium and chromedriver (Debian: lcov," \
         "chromium, chromium-driver); install them and run again" >&2
    exit 1
  fi
fi

"$PY" -m ruff format --check src tests scripts
"$PY" -m ruff check src tests scripts
"$PY" -m mypy

# Two pytest-xdist workers, one per core of the machines it runs on (TALLY_TEST_WORKERS
# to change it; 0 runs the tests in this process): most tests wait on a subprocess. Work
# stealing, because a few tests take half a minute and most a fraction of a second.
WORKERS=${TALLY_TEST_WORKERS:-2}
XDIST="-n $WORKERS --dist worksteal"

rm -f .coverage .coverage.*
COV="--cov --cov-report= --cov-append"  # each Python's data added to one .coverage
"$PY" -m pytest $XDIST $COV "$@"

combined=no
if [ -x "$PYTHONS" ]; then
  "$PYTHONS" setup >/dev/null
  "$PYTHONS" sh "command -v genhtml >/dev/null || DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends lcov >/dev/null"
  for v in 3.13 3.14 3.15; do
    echo "== CPython $v"
    [ -x ".venv-$v/bin/python" ] || "$PYTHONS" run "$v" -m venv ".venv-$v"
    "$PYTHONS" sh ".venv-$v/bin/pip install -q -e '.[test]'"
    if [ "$v" = 3.14 ]; then
      # sys.monitoring engine: its coverage counts toward tally's own.
      "$PYTHONS" sh "TALLY_TEST_EXTERNAL_TOOLS=lcov .venv-$v/bin/python -m pytest $XDIST $COV $*"
      combined=yes
    else
      # The real-suite harness runs on 3.11 and 3.14 only (docs/harness.md): time.
      "$PYTHONS" sh "TALLY_TEST_EXTERNAL_TOOLS=0 .venv-$v/bin/python -m pytest $XDIST \
        --ignore=tests/test_real_suites.py $*"
    fi
  done
fi

if compgen -G ".coverage.*" >/dev/null; then  # a process pytest-cov didn't gather
  "$PY" -m coverage combine -q --append
fi
if [ "$combined" = yes ]; then
  "$PY" -m coverage report --fail-under="$MIN"
else
  "$PY" -m coverage report
  echo "note: the ${MIN}% self-coverage gate applies to the combined 3.11 + 3.14 run" \
       "(the monitor engine only runs on 3.12+); ../shared/tools/pythons was not found"
fi
