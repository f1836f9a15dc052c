from tests.builtin.detectors import Build, call, run
from tokentrail.builtin.detectors.reread import ReRead


def test_second_read_without_a_write_is_waste() -> None:
    b = Build()
    b.turn(call("Read", files=("/src/app.py",), tokens=2000))
    b.turn(call("Read", files=("/src/app.py",), tokens=2000))
    b.turns(5)
    [f] = run(ReRead(), b.session())
    assert f.claims == {f"carry:{b.calls[1].id}": (2000 * 5, f.wasted_usd)}
    assert "app.py" in f.title and f.evidence[0]["file"] == "/src/app.py"


def test_read_after_a_write_or_a_different_part_is_not_a_reread() -> None:
    b = Build()
    b.turn(call("Read", files=("/src/app.py",), tokens=2000))
    b.turn(call("Edit", files=("/src/app.py",), writes=True, tokens=120))
    b.turn(call("Read", files=("/src/app.py",), tokens=2000))
    b.turn(call("Read", files=("/src/app.py",), tokens=900))  # offset/limit: other lines
    b.turns(3)
    assert run(ReRead(), b.session()) == []


def test_small_duplicates_stay_below_the_threshold() -> None:
    b = Build()
    b.turn(call("Read", files=("/src/a.py",), tokens=400))
    b.turn(call("Read", files=("/src/a.py",), tokens=400))
    b.turns(3)
    assert run(ReRead(), b.session()) == []
    assert len(run(ReRead(), b.session(), reread_min_tokens=300)) == 1


def test_a_read_summarised_away_by_compaction_may_be_read_again() -> None:
    b = Build()
    b.turn(call("Read", files=("/src/app.py",), tokens=2000))
    b.turn()
    b.compact()
    b.turn(call("Read", files=("/src/app.py",), tokens=2000))
    b.turns(3)
    assert run(ReRead(), b.session()) == []
