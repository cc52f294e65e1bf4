"""Settings that other settings imply, applied once a `Config` holds everything the user
said: the patches `[run] patch` asks for (with those they bring along), and `[run]
parallel` for processes that would otherwise share one data file. process.py carries
the patches out."""

from __future__ import annotations

import os

from tally.config.readers import Config
from tally.exceptions import ConfigError

__all__ = ["PATCHES", "apply_rules", "implied_patches", "requested_patches"]

PATCHES = ("_exit", "execv", "fork", "subprocess")


def requested_patches(config: Config) -> set[str]:
    """The patches `[run] patch` asks for, with those they imply (implied_patches). Raises
    ConfigError for a name tally doesn't know, or one this system can't patch."""
    unknown = sorted(set(config.items("run:patch")) - set(PATCHES))
    if unknown:
        raise ConfigError(
            f"[run] patch: unknown patch {unknown[0]!r}; the patches are {', '.join(PATCHES)}"
        )
    if "execv" in config.items("run:patch") and os.name == "nt":
        raise ConfigError("[run] patch = execv isn't available on Windows")
    return implied_patches(config)


def implied_patches(config: Config) -> set[str]:
    """The patches `[run] patch` names, with those they imply (`[run] concurrency =
    multiprocessing` asks for `subprocess`, which measures multiprocessing's children as
    coverage.py does, and other Python subprocesses too), unchecked."""
    wanted = set(config.items("run:patch"))
    if "multiprocessing" in config.items("run:concurrency"):
        wanted.add("subprocess")
    if "subprocess" in wanted:
        wanted |= {"_exit", "fork"}
    return wanted


def apply_rules(config: Config) -> None:
    """Set what `config`'s settings imply. Checks nothing: a report doesn't care what a
    run would patch, and the run checks it (requested_patches) before it starts."""
    if implied_patches(config) & {"subprocess", "fork"} and not config.flag("run:parallel"):
        # Processes that share a data file name would write over each other's data.
        config.set("run:parallel", True, "implied by [run] patch")
