"""Configuration: the option table and the readers that fill a `Config` from files, env and CLI."""

from __future__ import annotations

from tally.config.options import OPTIONS, Option
from tally.config.readers import Config, load_config

__all__ = ["OPTIONS", "Config", "Option", "load_config"]
