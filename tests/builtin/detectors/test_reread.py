from tests.builtin.detectors import Build, call, corpus, run
from tokentrail.builtin.detectors.reread import ReRead
from tokentrail.model import ToolCall


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


def _ranged(path: str, first: int, last: int, tokens: int) -> ToolCall:
    c = call("Read", files=(path,), tokens=tokens)
    c.read_range = (first, last)
    return c


def test_ranged_reads_repeat_only_the_lines_already_in_context() -> None:
    b = Build()
    b.turn(_ranged("/src/app.js", 1, 100, 1200))
    b.turn(_ranged("/src/app.js", 280, 379, 1200))  # another window: new lines
    b.turn(_ranged("/src/app.js", 290, 370, 1000))  # inside the second window: a copy
    b.turn(call("Read", files=("/src/app.js",), tokens=6000))  # whole: mostly new
    b.turn(_ranged("/src/app.js", 500, 560, 800))  # inside the whole copy
    b.turns(3)
    [f] = run(ReRead(), b.session())
    assert set(f.claims) == {f"carry:{b.calls[2].id}", f"carry:{b.calls[4].id}"}
    assert [e.get("lines") for e in f.evidence] == ["280-379", "290-370", None, "500-560"]


def test_two_windows_of_app_js_on_the_real_log_are_not_a_reread() -> None:
    """4d5611e5 read app.js lines 1-100 at turn 57, then lines 280-379 at turn 58."""
    run_ = corpus()
    reads = [
        c
        for c in run_.session("4d5611e5").tool_calls
        if c.files[:1] and c.files[0].endswith("assets/js/app.js") and c.name == "Read"
    ]
    assert [(c.request_index, c.read_range) for c in reads[:2]] == [
        (57, (1, 100)),
        (58, (280, 379)),
    ]
    titles = [f.title for f in run_.findings("4d5611e5") if f.detector == "reread"]
    assert not any("app.js" in t for t in titles)
    # the real duplicate stays: subagent_live.ex read whole at turns 4 and 26, unchanged
    assert "subagent_live.ex read again without a change in between (1×)" in titles


def test_reads_from_an_offset_to_the_end_repeat_only_from_a_later_line() -> None:
    b = Build()
    b.turn(_ranged("/tmp/out.txt", 3850, 10**9, 600))
    b.turn(_ranged("/tmp/out.txt", 2560, 10**9, 900))  # starts earlier: new lines
    b.turn(_ranged("/tmp/out.txt", 3000, 10**9, 700))  # inside the second: a copy
    b.turns(3)
    [f] = run(ReRead(), b.session())
    assert set(f.claims) == {f"carry:{b.calls[2].id}"}
