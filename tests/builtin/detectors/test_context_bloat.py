from tests.builtin.detectors import Build, call, run
from tokentrail.builtin.detectors.context_bloat import ContextBloat


def test_unexplained_jump_is_bloat_carried_by_later_requests() -> None:
    b = Build()
    b.turn()
    b.turn(extra=30000)  # pasted content: no tool result explains it
    b.turns(4)
    [f] = run(ContextBloat(), b.session())
    assert f.evidence[0]["turn"] == 1 and f.wasted_tokens == 30000 * 4


def test_oversized_first_request_is_bloat() -> None:
    b = Build(base=60000)
    b.turns(3)
    [f] = run(ContextBloat(), b.session())
    assert "first request" in f.title and f.wasted_tokens == 15000 * 2


def test_jumps_explained_by_tool_results_or_unrecorded_output_are_not_bloat() -> None:
    b = Build()
    b.turn(call("Bash", command="make", tokens=30000))
    b.turn(lower_bound=True)
    b.turn(extra=25000)  # the placeholder output hides what the reply really added
    b.turn(extra=15000)  # below the threshold
    b.turns(2)
    assert run(ContextBloat(), b.session()) == []
