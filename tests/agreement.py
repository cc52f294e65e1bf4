"""Print how often tally's counts equal trace's on the corpus, statement by statement:
`python tests/agreement.py`. A statement's count in trace is its count on the statement's
first line that trace counts (support.per_statement), as coverage.py maps lines."""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from support import CORPUS, count_difference_kinds, oracle, per_statement, tally_view

from tally.analysis.source import analyze_source, read_source

tot = same = 0
for script in sorted(CORPUS.glob("*.py")):
    if script.name.endswith("_312.py") and sys.version_info < (3, 12):
        continue
    with tempfile.TemporaryDirectory() as d:
        o = oracle(script, Path(d))
        ex, c = tally_view(script, Path(d), "--count")
    facts = analyze_source(read_source(str(script)), str(script), None)
    theirs = per_statement(facts, o.trace_counts)
    kinds = count_difference_kinds(script.read_text())
    for line in sorted(ex):
        tot += 1
        if c.get(line) == theirs.get(line):
            same += 1
        else:
            print(script.name, line, c.get(line), theirs.get(line), kinds.get(line))
print(f"agree {same}/{tot} = {100 * same / tot:.2f}%")
