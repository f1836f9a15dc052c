from tests.builtin.detectors import Build, call, run
from tokentrail.builtin.detectors.broad_exploration import BroadExploration


def _reads(n: int, edits: int = 0, subagent: str | None = None) -> Build:
    b = Build()
    for i in range(n):
        b.turn(call("Read", files=(f"/src/m{i}.py",), tokens=800), subagent=subagent)
    for i in range(edits):
        b.turn(call("Edit", files=(f"/src/m{i}.py",), writes=True, tokens=120))
    b.turns(3)
    return b


def test_thirty_unused_reads_count_the_ones_beyond_the_allowance() -> None:
    [f] = run(BroadExploration(), _reads(30).session())
    assert len(f.claims) == 5 and f.confidence <= 0.3 and not f.measured


def test_orientation_reads_edited_files_or_subagent_reads_do_not_count() -> None:
    assert run(BroadExploration(), _reads(20).session()) == []
    assert run(BroadExploration(), _reads(30, edits=10).session()) == []
    assert run(BroadExploration(), _reads(30, subagent="explore").session()) == []
