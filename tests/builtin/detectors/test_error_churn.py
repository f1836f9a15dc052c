from tests.builtin.detectors import Build, call, run
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
