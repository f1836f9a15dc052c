from tests.builtin.detectors import Build, call, run
from tokentrail.builtin.detectors.edit_cascade import EditCascade


def _edits(failures: int, landed_between: bool = False) -> Build:
    b = Build()
    for n in range(failures):
        b.turn(call("Edit", files=("/a.ts",), writes=True, tokens=150, error="String not found"))
        if landed_between and n == 0:
            b.turn(call("Edit", files=("/a.ts",), writes=True, tokens=120))
    b.turns(3)
    return b


def test_three_failed_edits_on_one_file_are_a_cascade() -> None:
    b = _edits(3)
    [f] = run(EditCascade(), b.session())
    assert f.title == "3 failed edits on a.ts"
    assert set(f.claims) == {f"carry:{b.calls[1].id}", f"carry:{b.calls[2].id}"}


def test_two_failures_or_a_landed_edit_in_between_are_not() -> None:
    assert run(EditCascade(), _edits(2).session()) == []
    assert run(EditCascade(), _edits(3, landed_between=True).session()) == []


def test_a_read_between_failures_starts_the_count_again() -> None:
    b = Build()
    b.turn(call("Edit", files=("/a.py",), error="String not found", writes=True))
    b.turn(call("Edit", files=("/a.py",), error="String not found", writes=True))
    b.turn(call("Read", files=("/a.py",), tokens=800))
    b.turn(call("Edit", files=("/a.py",), error="String not found", writes=True))
    b.turns(2)
    assert run(EditCascade(), b.session()) == []
