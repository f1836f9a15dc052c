from tests.builtin.detectors import Build, call, run
from tokentrail.builtin.detectors.retry_loop import RetryLoop


def _session(second_error: bool, same_command: bool = True) -> Build:
    b = Build()
    b.turn(call("Bash", command="npm test", tokens=3000, error="Error: 3 tests failed"))
    again = "npm test" if same_command else "npm test -- --runInBand"
    b.turn(call("Bash", command=again, tokens=3000, error="Error" if second_error else None))
    b.turns(10)
    return b


def test_same_failing_command_twice_is_a_retry_loop_with_the_repeat_as_waste() -> None:
    b = _session(second_error=True)
    [f] = run(RetryLoop(), b.session())
    assert f.detector == "retry_loop"
    assert "npm test" in f.title and "npm test" in f.lesson
    repeat = b.calls[1]
    assert set(f.claims) == {f"carry:{repeat.id}"}
    assert f.wasted_tokens == 3000 * 10  # re-sent by the 10 later requests
    assert f.measured and f.wasted_usd > 0
    assert [e["command"] for e in f.evidence] == ["npm test", "npm test"]


def test_a_repeat_that_succeeds_or_changes_arguments_is_not_a_loop() -> None:
    assert run(RetryLoop(), _session(second_error=False).session()) == []
    assert run(RetryLoop(), _session(True, same_command=False).session()) == []


def test_threshold_raises_the_bar() -> None:
    assert run(RetryLoop(), _session(True).session(), retry_min_failures=3) == []


def test_failed_edits_are_left_to_edit_cascade() -> None:
    b = Build()
    for _ in range(3):
        b.turn(call("Edit", files=("/a.py",), error="String not found", writes=True))
    assert run(RetryLoop(), b.session()) == []
