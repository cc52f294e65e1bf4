"""What a finished run does with its analysed results, and the history helpers every
tracking command shares: record a summary in the history store (`[tally]
record_history`), compare two summaries, and say why coverage is a regression from the
baseline or the last recorded run (pytest's `--tally-no-regression`, `tally check
--no-regression`). They take the configuration and results, whoever analysed them."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tally.exceptions import ConfigError, NoDataError, TallyError
from tally.warnings import Notice

if TYPE_CHECKING:
    from tally.analysis.analyzer import Analyses
    from tally.config.readers import Config
    from tally.track.history import History
    from tally.track.policies import Comparison
    from tally.track.summary import Summary

__all__ = [
    "compared",
    "current_summary",
    "labelled",
    "last_recorded",
    "milestones",
    "not_recorded",
    "precision",
    "record",
    "record_history",
    "regression",
    "regression_of",
    "store_of",
    "unchecked",
]


def precision(config: Config) -> int:
    # Percentages with no places hide the changes a comparison is about: one at least.
    return max(int(config.get("report:precision")), 1)


def store_of(config: Config) -> History:
    from tally.track.history import History

    return History(config.text("tally:history_file"))


def compared(config: Config, old: Summary, new: Summary) -> tuple[Comparison, list[str]]:
    """`new` compared with `old`, and why it is a regression ([tally] tolerance)."""
    from tally.track.policies import compare, regression_reasons

    comparison = compare(old, new)
    reasons = regression_reasons(
        comparison, tolerance=config.number("tally:tolerance"), precision=precision(config)
    )
    return comparison, reasons


def milestones(config: Config) -> list[float]:
    try:
        return sorted(float(m) for m in config.items("tally:milestones"))
    except ValueError:
        raise ConfigError(
            f"[tally] milestones must be percentages, not {config.items('tally:milestones')}"
        ) from None


def record(config: Config, summary: Summary, **how: bool) -> int:
    """Record `summary` in the history store; the new run's id."""
    from tally.track.history import git_state

    store = store_of(config)
    run = store.record(summary, git=git_state(os.getcwd()), milestones=milestones(config), **how)
    return run.id


def labelled(run: Any) -> Summary:
    summary: Summary = run.summary
    return replace(summary, label=f"run {run.id}")


def last_recorded(config: Config) -> Summary:
    runs = store_of(config).runs(limit=1)
    if not runs:
        raise NoDataError(
            "nothing to compare with: name --old FILE, or record runs "
            "(`tally history record`, [tally] record_history)"
        )
    return labelled(runs[0])


def regression(config: Config, current: Summary) -> list[str]:
    """Why `current` is a regression from the baseline (or, without one, the last recorded
    run); empty when it isn't."""
    baseline = store_of(config).baseline()
    old = baseline[0].summary if baseline is not None else last_recorded(config)
    return compared(config, old, current)[1]


def current_summary(config: Config, results: Analyses, label: str = "") -> Summary:
    """The summary of `results`, labelled "now (<data file>)" unless `label` says otherwise."""
    from tally.track.summary import summary_of

    name = os.path.basename(config.text("run:data_file"))
    return summary_of(results, label=label or f"now ({name})")


def record_history(config: Config, results: Analyses) -> str | Notice:
    """[tally] record_history, after `tally run` or a pytest --tally run saved: add the
    results to the history store. Returns what to tell the user (a failure is a warning:
    the run itself went as it went)."""
    try:
        summary = current_summary(config, results)
        summary = replace(summary, label=os.path.basename(config.text("run:data_file")))
        run_id = record(config, summary)
    except TallyError as err:
        return not_recorded(err.message)
    return f"tally: recorded run {run_id} in {config.text('tally:history_file')}"


def not_recorded(reason: str) -> Notice:
    """The warning of a run that couldn't be recorded in the history store."""
    return Notice(f"the run wasn't recorded in the history store: {reason}", "history-unusable")


def regression_of(config: Config, results: Analyses) -> list[str]:
    """pytest's --tally-no-regression: why `results` are a regression from the baseline
    or last recorded run; an error is a reason too."""
    try:
        return regression(config, current_summary(config, results))
    except TallyError as err:
        return [unchecked(err.message)]


def unchecked(reason: str) -> str:
    """The regression reason of a run that couldn't be checked."""
    return f"can't check for a regression: {reason}"
