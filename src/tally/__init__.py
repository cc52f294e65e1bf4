"""tally: code coverage for Python that measures lines and exact execution counts."""

from __future__ import annotations

__version__ = "0.1.0"

from tally.api import Coverage
from tally.data.sqlite import CoverageData
from tally.exceptions import TallyError

__all__ = ["Coverage", "CoverageData", "TallyError", "__version__"]
