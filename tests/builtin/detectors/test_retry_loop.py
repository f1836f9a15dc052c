from tests.builtin.detectors import Build, call, corpus, run
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


def test_a_successful_edit_between_two_failures_breaks_the_run() -> None:
    b = Build()
    b.turn(call("Bash", command="mix test", tokens=3000, error="1 test failed"))
    b.turn(call("Edit", files=("/t_test.exs",), writes=True))
    b.turn(call("Bash", command="mix test", tokens=3000, error="1 test failed"))
    b.turns(5)
    assert run(RetryLoop(), b.session()) == []


def test_real_sessions_that_changed_something_between_failures_are_not_loops() -> None:
    """8463c716: `mix test` failed at turns 119 and 121 with an Edit of the test at 120;
    ae4a77f8: `git commit` failed at 127 and 130 with two Edits between. fe5e1c67 re-ran
    `npm run build` 4 times with nothing in between: that one is a loop."""
    run_ = corpus()
    assert [f for f in run_.findings("8463c716") if f.detector == "retry_loop"] == []
    assert [f for f in run_.findings("ae4a77f8") if f.detector == "retry_loop"] == []
    [loop] = [f for f in run_.findings("fe5e1c67") if f.detector == "retry_loop"]
    assert "npm run" in loop.title and "4 times" in loop.title
    assert [e["turn"] for e in loop.evidence] == [155, 156, 157, 158]
