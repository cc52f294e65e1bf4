"""Engine choice: one function decides, says why, and never silently measures less."""

from __future__ import annotations

import pytest

from tally import env
from tally.collect import engine as engine_module
from tally.collect.engine import choose_engine


@pytest.fixture(params=[False, True], ids=["py311", "py312+"])
def monitoring(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(env, "HAS_MONITORING", request.param)
    return bool(request.param)


def test_auto_prefers_monitor_for_binary_lines_where_it_exists(monitoring: bool) -> None:
    choice = choose_engine("auto", counts=False)
    assert choice.name == ("monitor" if monitoring else "count")
    assert choice.warnings == []
    assert choice.reasons


def test_counts_always_use_the_count_engine(monitoring: bool) -> None:
    choice = choose_engine("auto", counts=True)
    assert choice.name == "count"
    assert choice.reasons == ["counts requested: only the count engine counts executions"]


def test_monitor_request_falls_back_with_a_warning(monitoring: bool) -> None:
    choice = choose_engine("monitor", counts=False)
    if monitoring:
        assert (choice.name, choice.warnings) == ("monitor", [])
    else:
        assert choice.name == "count"
        (warning,) = choice.warnings
        assert "needs sys.monitoring (Python 3.12+)" in warning.message
        assert warning.slug == "engine-unavailable"


def test_monitor_with_counts_switches_to_count_and_says_so(monitoring: bool) -> None:
    choice = choose_engine("monitor", counts=True)
    assert choice.name == "count"
    assert len(choice.warnings) == 1


def test_branch_coverage_is_always_measured_by_the_engine_chosen_for_lines() -> None:
    counted = choose_engine("count", counts=True, branch=True)
    assert (counted.name, counted.branch, counted.warnings) == ("count", True, [])
    auto = choose_engine("auto", counts=False, branch=True)
    assert auto.branch and not auto.warnings
    assert auto.name == ("monitor" if env.HAS_MONITORING else "count")
    # The choice says how: events where each way disables alone, markers before 3.14.
    if env.HAS_BRANCH_WAYS:
        assert "BRANCH_LEFT/BRANCH_RIGHT" in auto.reasons[-1]
    elif env.HAS_MONITORING:
        assert "a marker line at the start of each arm" in auto.reasons[-1]
    else:
        assert "a counter at the start of each arm" in auto.reasons[-1]


def test_env_flags_describe_this_interpreter() -> None:
    import sys

    assert (sys.version_info >= (3, 12)) == env.HAS_MONITORING


@pytest.mark.parametrize("branch_ways", [False, True], ids=["markers", "branch-events"])
def test_the_choice_says_what_its_engine_measures(
    monkeypatch: pytest.MonkeyPatch, branch_ways: bool
) -> None:
    monkeypatch.setattr(env, "HAS_BRANCH_WAYS", branch_ways)
    monkeypatch.setattr(env, "HAS_MONITORING", True)
    counting = choose_engine("auto", counts=True).capabilities
    assert counting.counts and not counting.sees_child_main
    lines = choose_engine("auto", counts=False).capabilities
    assert not lines.counts and lines.sees_child_main
    # Branch markers are compiled into imported code: a child's main script misses them.
    branches = choose_engine("auto", counts=False, branch=True).capabilities
    assert branches.sees_child_main == branch_ways


def test_the_built_engine_has_the_chosen_capabilities(tmp_path: object) -> None:
    from tally.collect.filter import FileFilter

    for choice in (
        choose_engine("count", counts=True, branch=True),
        choose_engine("auto", counts=False, branch=True),
    ):
        built = choice.build(FileFilter(source=[str(tmp_path)], cwd=str(tmp_path)), None)
        assert built.capabilities == choice.capabilities


def test_a_child_scripts_tracer_is_an_engine_too(tmp_path: object) -> None:
    from tally.collect.script import ScriptTracer

    tracer: engine_module.Engine = ScriptTracer("main.py", "/x/main.py", branch=False)
    tracer.switch_context("test_a")
    assert not tracer.capabilities.contexts
    assert tracer.measurement(contexts=True).lines == {}
