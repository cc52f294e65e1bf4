"""Print how often tally's counts equal trace's on the corpus: `python tests/agreement.py`."""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from support import CORPUS, count_difference_kinds, oracle, tally_view

tot = same = 0
for script in sorted(CORPUS.glob("*.py")):
    if script.name.endswith("_312.py") and sys.version_info < (3, 12):
        continue
    with tempfile.TemporaryDirectory() as d:
        o = oracle(script, Path(d))
        ex, c = tally_view(script, Path(d), "--count")
    kinds = count_difference_kinds(script.read_text())
    for line in sorted(ex):
        tot += 1
        if c.get(line) == o.trace_counts.get(line):
            same += 1
        else:
            print(script.name, line, c.get(line), o.trace_counts.get(line), kinds.get(line))
print(f"agree {same}/{tot} = {100 * same / tot:.2f}%")
