"""`tally baseline|compare|check|diff|history`: keep score over time, and gate CI on it.

Exit statuses (docs/ci.md): 0 the gate passes; 1 a regression (coverage fell from the
baseline or the run compared with), or an error; 2 a threshold missed (`check`'s
--fail-under*, `diff --fail-under`), as fail_under is everywhere in tally.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tally.cli.options import add_common, add_table_flags, overrides_from
from tally.exceptions import EXIT_ERROR, EXIT_FAIL_UNDER, EXIT_OK, ConfigError, NoDataError
from tally.track import gates

if TYPE_CHECKING:
    from tally.config.readers import Config
    from tally.track.policies import Goal
    from tally.track.summary import Summary
    from tally.track.views import Style

__all__ = ["COMMANDS", "register"]

EXIT_REGRESSION = EXIT_ERROR  # 1 means coverage went down (docs/ci.md, docs/errors.md)

_SELECT = ("report:include", "report:omit", "report:precision", "report:ignore_errors")
_FORMAT = ("tally:progress_format",)

COMMANDS: dict[str, str] = {
    "baseline": "record a baseline; show progress against it; check for regressions",
    "compare": "compare two runs: totals and per-file deltas; exit 1 on regression",
    "check": "gate on thresholds and regressions (exit 2 under a threshold, 1 on regression)",
    "diff": "coverage of the lines changed since a git ref (exit 2 under --fail-under)",
    "history": "recorded runs with a sparkline; `history record` records the current data",
}


def register(commands: Any, name: str) -> None:
    """Add the score-keeping command `name`."""
    parser = commands.add_parser(name, help=COMMANDS[name])
    add_common(parser)
    if name == "baseline":
        parser.add_argument("action", choices=("set", "status", "check", "report"))
        parser.add_argument("output", nargs="?", help="report: where the JSON goes (- for stdout)")
        parser.add_argument("--force", action="store_true", help="set: replace the baseline")
        add_table_flags(parser, (*_SELECT, *_FORMAT, "tally:tolerance"))
    elif name == "compare":
        parser.add_argument("--old", metavar="FILE", help="a data file or JSON report")
        parser.add_argument("--new", metavar="FILE", help="a data file or JSON report")
        parser.add_argument(
            "--latest", action="store_true", help="compare the last two recorded runs"
        )
        add_table_flags(parser, (*_SELECT, *_FORMAT, "tally:tolerance", "tally:goal"))
    elif name == "check":
        parser.add_argument(
            "--no-regression",
            action="store_true",
            help="also fail when coverage fell from the baseline (or the last recorded run)",
        )
        flags = ("report:fail_under", "tally:fail_under_branch", "tally:fail_under_file")
        add_table_flags(parser, (*_SELECT, *_FORMAT, *flags, "tally:tolerance"))
    elif name == "diff":
        add_table_flags(parser, (*_SELECT, *_FORMAT, "tally:diff_base", "tally:diff_fail_under"))
    else:
        parser.add_argument("action", nargs="?", choices=("show", "record"), default="show")
        parser.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
        add_table_flags(parser, (*_SELECT, *_FORMAT))
    parser.set_defaults(handler=handle, track_command=name)


def handle(args: argparse.Namespace) -> int:
    """Run the command; its exit status."""
    from tally.config.readers import load_config

    config = load_config(args.rcfile, overrides=overrides_from(args))
    handler = {
        "baseline": _baseline,
        "compare": _compare,
        "check": _check,
        "diff": _diff,
        "history": _history,
    }[args.track_command]
    return handler(args, config)


# -- what the commands share --------------------------------------------------------------


def _style(config: Config) -> Style:
    from tally.track.views import Style

    return Style.for_stream(config.text("tally:progress_format"), gates.precision(config))


def _current(args: argparse.Namespace, label: str = "") -> Summary:
    """The current data file's summary (analysed with the report settings), labelled
    "now (.coverage)" unless `label` says otherwise."""
    return _loaded(args, label)[1]


def _loaded(args: argparse.Namespace, label: str = "") -> tuple[Config, Summary]:
    """The configuration, and the summary of the data file it names (as _current)."""
    from tally.cli.report import load_results

    cov, results = load_results(args)
    return cov.config, gates.current_summary(cov.config, results, label)


def _summary_at(path: str, args: argparse.Namespace) -> Summary:
    """The summary in `path`: a JSON report, or a data file analysed as `tally report` would."""
    from tally.track.summary import summary_from_json

    if not os.path.exists(path):
        raise NoDataError(f"no such file {path}: name a data file or a JSON report")
    with open(path, "rb") as handle:
        is_json = handle.read(64).lstrip().startswith(b"{")
    if is_json:
        return summary_from_json(path)
    copy = argparse.Namespace(**vars(args))
    setattr(copy, "run:data_file", path)
    return _current(copy, label=os.path.basename(path))


def _goals(config: Config) -> list[Goal]:
    from tally.track.policies import Goal

    goals = []
    if config.number("tally:goal"):
        by = None
        if config.text("tally:goal_date"):
            try:
                by = datetime.date.fromisoformat(config.text("tally:goal_date"))
            except ValueError:
                raise ConfigError(
                    f"[tally] goal_date {config.text('tally:goal_date')!r} is not a date: "
                    "write it as YYYY-MM-DD"
                ) from None
        goals.append(Goal("line", config.number("tally:goal"), by))
    if config.number("tally:goal_branch"):
        goals.append(Goal("branch", config.number("tally:goal_branch")))
    return goals


def _emit(text: str) -> None:
    sys.stdout.write(text)


# -- the commands ---------------------------------------------------------------------------


def _baseline(args: argparse.Namespace, config: Config) -> int:
    from tally.track.policies import goal_progress
    from tally.track.views import render_comparison, render_status, status_json

    store = gates.store_of(config)
    if args.action == "set":
        summary = _current(args)
        run_id = gates.record(config, summary, baseline=True, force=args.force)
        _emit(
            f"Baseline set: run {run_id}, coverage "
            f"{_style(config).pc(summary.total_pc)} ({store.path})\n"
        )
        return EXIT_OK
    baseline = store.baseline()
    if args.action == "check":
        if baseline is None:
            raise NoDataError("no baseline to check against: `tally baseline set` records one")
        old = replace(baseline[0].summary, label=f"baseline (run {baseline[0].id})")
        comparison, reasons = gates.compared(config, old, _current(args))
        _emit(render_comparison(comparison, _style(config), reasons=reasons))
        return EXIT_REGRESSION if reasons else EXIT_OK
    now = _current_if_any(args, config)
    milestones = store.milestones()
    today = datetime.date.today()
    shown = goal_progress(_goals(config), now, today) if now else []
    wanted = sorted(set(gates.milestones(config)) | set(milestones))
    rows = [(m, milestones.get(m)) for m in wanted]
    runs = store.runs(limit=10)
    if args.action == "status":
        _emit(
            render_status(
                _style(config),
                baseline=baseline,
                current=now,
                goals=shown,
                milestones=rows,
                runs=runs,
            )
        )
        return EXIT_OK
    # report: everything, as JSON, to a file (or stdout)
    import json

    from tally.report.output import write_output

    doc = status_json(
        baseline=baseline, current=now, goals=shown, milestones=rows, runs=store.runs()
    )
    if baseline is not None and now is not None:
        comparison, reasons = gates.compared(config, baseline[0].summary, now)
        doc["comparison_with_baseline"] = {
            "percent_covered_delta": comparison.total_delta,
            "regression": bool(reasons),
            "newly_uncovered_lines": comparison.newly_uncovered,
        }
    dest = args.output or "-"
    write_output(dest, json.dumps(doc, indent=2) + "\n", what="progress report")
    if dest != "-":
        _emit(f"Wrote progress report to {dest}\n")
    return EXIT_OK


def _current_if_any(args: argparse.Namespace, config: Config) -> Summary | None:
    """The current data's summary, or None when there is no data file yet."""
    if not os.path.exists(config.text("run:data_file")):
        return None
    return _current(args)


def _compare(args: argparse.Namespace, config: Config) -> int:
    from tally.track.views import render_comparison

    if args.latest and (args.old or args.new):
        raise ConfigError("--latest compares the last two recorded runs: drop --old/--new")
    if args.latest:
        runs = gates.store_of(config).runs(limit=2)
        if len(runs) < 2:
            raise NoDataError(
                f"--latest needs two recorded runs; {gates.store_of(config).path} has {len(runs)}"
            )
        old, new = (gates.labelled(r) for r in runs)
    else:
        old = _summary_at(args.old, args) if args.old else gates.last_recorded(config)
        new = _summary_at(args.new, args) if args.new else _current(args)
    comparison, reasons = gates.compared(config, old, new)
    _emit(
        render_comparison(
            comparison, _style(config), reasons=reasons, goal=config.number("tally:goal")
        )
    )
    return EXIT_REGRESSION if reasons else EXIT_OK


def _check(args: argparse.Namespace, config: Config) -> int:
    from tally.track.policies import threshold_reasons

    current = _current(args)
    precision = gates.precision(config)
    below = threshold_reasons(
        current,
        total=config.number("report:fail_under"),
        branch=config.number("tally:fail_under_branch"),
        per_file=config.number("tally:fail_under_file"),
        precision=precision,
    )
    fell = gates.regression(config, current) if args.no_regression else []
    style = _style(config)
    if style.format == "json":
        import json

        doc = {"passed": not (below or fell), "thresholds": below, "regression": fell}
        _emit(json.dumps(doc, indent=2) + "\n")
    else:
        for reason in below + fell:
            _emit(f"FAIL {reason}\n")
        if not (below or fell):
            _emit(f"OK coverage {style.pc(current.total_pc)}: every gate passed\n")
    if fell:
        return EXIT_REGRESSION
    return EXIT_FAIL_UNDER if below else EXIT_OK


def _diff(args: argparse.Namespace, config: Config) -> int:
    from tally.analysis.results import fail_under_reason
    from tally.cli.report import load_results
    from tally.track.diff import changed_lines, diff_coverage
    from tally.track.views import render_diff

    base = config.text("tally:diff_base")
    changed = changed_lines(base, os.getcwd())
    _, results = load_results(args)
    diff = diff_coverage(base, results.files, changed)
    threshold = config.number("tally:diff_fail_under")
    reasons = []
    if threshold and diff.n_statements:
        why = fail_under_reason(diff.pc_covered, threshold, gates.precision(config))
        if why:
            reasons.append(why.replace("total of", "diff coverage of", 1))
    _emit(render_diff(diff, _style(config), reasons=reasons))
    return EXIT_FAIL_UNDER if reasons else EXIT_OK


def _history(args: argparse.Namespace, config: Config) -> int:
    from tally.track.views import render_history

    if args.action == "record":
        summary = _current(args)
        run_id = gates.record(config, summary)
        _emit(f"Recorded run {run_id}: coverage {_style(config).pc(summary.total_pc)}\n")
        return EXIT_OK
    if args.limit < 1:
        raise ConfigError(f"--limit takes a positive number of runs, not {args.limit}")
    runs = gates.store_of(config).runs(limit=args.limit)
    if not runs:
        raise NoDataError(
            f"no runs recorded in {gates.store_of(config).path}: `tally history record` adds one"
        )
    _emit(render_history(runs, _style(config)))
    return EXIT_OK
