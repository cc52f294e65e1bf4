"""Data files: coverage.py's SQLite schema with tally's counts, and the encodings they use."""
