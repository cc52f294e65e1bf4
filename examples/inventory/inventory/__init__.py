"""A tiny inventory package: the example project tally measures in the README."""

from inventory.stock import Stock

__all__ = ["Stock"]
