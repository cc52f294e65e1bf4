"""tally's version, apart from the package's `__init__` (which exports the public API), so
that any module can name it without importing the package's face."""

__version__ = "0.1.0"  # also in pyproject.toml
