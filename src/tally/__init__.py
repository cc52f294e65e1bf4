"""tally: code coverage for Python that measures lines and exact execution counts.

PYTEST_DONT_REWRITE: the package holds a pytest plugin, so pytest marks it for assertion
rewriting; under `tally run -m pytest` it is already imported, and this marker tells
pytest not to warn that it can't be rewritten (it has no test asserts to rewrite).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tally.version import __version__

__all__ = ["Coverage", "CoverageData", "TallyError", "__version__"]

if TYPE_CHECKING:
    from tally.api import Coverage
    from tally.data.sqlite import CoverageData
    from tally.exceptions import TallyError


def __getattr__(name: str) -> Any:
    # Imported on first use: `tally run` starts measuring sooner when the CLI only loads
    # what it needs (the start-up budget is 60 ms over `python -c pass`).
    if name == "Coverage":
        from tally.api import Coverage

        return Coverage
    if name == "CoverageData":
        from tally.data.sqlite import CoverageData

        return CoverageData
    if name == "TallyError":
        from tally.exceptions import TallyError

        return TallyError
    raise AttributeError(f"module 'tally' has no attribute {name!r}")
