"""Compare tally's counts with trace's on a bench suite, line by line.

Run with the workload's Python, from its directory, after a bench run of tally-count:

    VENV/bin/python tests/agreement_bench.py DATA_FILE -- PYTEST_ARGS...

It runs pytest in this process under `trace.Trace(count=1)` (the same counting as
`python -m trace --count`), then compares trace's count with tally's (from DATA_FILE) on
every executed statement line tally measured. Differences are printed with their source
line, to classify them against docs/counts.md.
"""

from __future__ import annotations

import sys
import sysconfig
import trace
from collections import Counter

import tally
from tally.analysis.source import analyze_source, join_regex, read_source
from tally.config.options import DEFAULT_EXCLUDE


def trace_counts(args: list[str]) -> dict[tuple[str, int], int]:
    paths = sysconfig.get_paths()
    tracer = trace.Trace(
        count=1, trace=0, ignoredirs=[paths["stdlib"], paths["purelib"], paths["platlib"]]
    )
    # Import pytest under the tracer too: plugins it loads may import measured modules.
    tracer.runctx("import pytest; pytest.main(args)", {"args": args}, {})
    return dict(tracer.results().counts)


def main() -> None:
    data_file = sys.argv[1]
    args = sys.argv[sys.argv.index("--") + 1 :]
    counted = trace_counts(args)
    data = tally.CoverageData(data_file)
    regex = join_regex(DEFAULT_EXCLUDE)
    same = total = 0
    shown: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for path in data.measured_files():
        source = read_source(path)
        facts = analyze_source(source, path, regex)
        text = source.splitlines()
        ours = data.counts(path)
        spans = _statement_spans(source)
        for line in sorted(set(ours) & facts.statements):
            theirs = counted.get((path, line), 0)
            total += 1
            if ours[line] == theirs:
                same += 1
                continue
            kinds["multi-line statement" if spans.get(line, line) > line else "one line"] += 1
            if shown[path] < 5:
                shown[path] += 1
                print(f"{path}:{line}: tally {ours[line]} trace {theirs}: {text[line - 1].strip()}")
    print(f"agree {same}/{total} = {100 * same / max(total, 1):.3f}%")
    print("differing lines by statement shape:", dict(kinds))


def _statement_spans(source: str) -> dict[int, int]:
    """first line -> last line of each simple statement (a compound one's header)."""
    import ast

    spans: dict[int, int] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                last = max(node.lineno, body[0].lineno - 1)
            else:
                last = node.end_lineno or node.lineno
            spans[node.lineno] = max(spans.get(node.lineno, 0), last)
    return spans


if __name__ == "__main__":
    main()
