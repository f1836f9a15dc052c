from tests.builtin.detectors import Build, call, corpus, run
from tokentrail.builtin.detectors.error_churn import ErrorChurn, error_class


def test_same_error_class_on_three_different_calls_is_churn() -> None:
    b = Build()
    for n in range(3):
        b.turn(
            call(
                "Bash",
                command=f"python run.py --n {n}",
                tokens=500,
                error=f"ModuleNotFoundError: No module named 'pkg{n}'",
            )
        )
    b.turns(2)
    [f] = run(ErrorChurn(), b.session())
    assert "modulenotfounderror" in f.title
    assert len(f.claims) == 2


def test_different_errors_a_success_between_or_knock_on_errors_are_not_churn() -> None:
    b = Build()
    b.turn(call("Bash", command="a", error="ModuleNotFoundError: No module named 'x'"))
    b.turn(call("Bash", command="b", error="SyntaxError: y"))
    b.turn(call("Bash", command="c", error="ModuleNotFoundError: No module named 'z'"))
    b.turn(call("Bash", command="d"))
    b.turn(call("Bash", command="e", error="ModuleNotFoundError: No module named 'z'"))
    for _ in range(3):
        b.turn(call("Read", files=("/x",), error="<tool_use_error>Sibling tool call errored"))
    b.turns(2)
    assert run(ErrorChurn(), b.session()) == []
    assert error_class(b.calls[0]) == error_class(b.calls[2])


def test_one_call_repeated_unchanged_is_retry_loop_not_churn() -> None:
    b = Build()
    for _ in range(3):
        b.turn(call("Bash", command="npm run build", tokens=500, error="Build error occurred"))
    b.turns(2)
    assert run(ErrorChurn(), b.session()) == []


def test_on_the_real_log_the_error_is_named_and_retry_loop_keeps_its_calls() -> None:
    """fe5e1c67: `npm run build` printed two npm warnings before "Build error occurred";
    the four identical runs are retry_loop's finding, not error_churn's too."""
    run_ = corpus()
    session = run_.session("fe5e1c67")
    builds = [c for c in session.tool_calls if c.command == "npm run build"]
    assert {c.error_head for c in builds} == {"Build error occurred"}
    findings = run_.findings("fe5e1c67")
    churn = [f for f in findings if f.detector == "error_churn"]
    assert not any("npm" in f.title or "build" in f.title.lower() for f in churn)
    assert [f.detector for f in findings if "npm run" in f.title] == ["retry_loop"]
