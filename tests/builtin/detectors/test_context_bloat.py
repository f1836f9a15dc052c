from tests.builtin.detectors import Build, call, corpus, run
from tokentrail.builtin.detectors.context_bloat import ContextBloat
from tokentrail.model import Prompt


def _pasted(tokens: int) -> tuple[Build, int]:
    b = Build()
    b.turn()
    i = b.turn(extra=tokens)  # a prompt that pasted content: no tool result explains it
    b.turns(4)
    return b, i


def test_a_jump_the_log_shows_as_a_pasted_prompt_is_bloat_carried_by_later_requests() -> None:
    b, i = _pasted(30000)
    session = b.session()
    session.prompts.append(Prompt(b.requests[i].timestamp, round(30000 * 2.85)))
    [f] = run(ContextBloat(), session)
    assert f.evidence[0]["turn"] == 1 and f.wasted_tokens == 30000 * 4
    assert "pasted" in f.title and "paste" in f.lesson


def test_a_jump_no_prompt_or_tool_result_in_the_log_explains_is_not_called_a_paste() -> None:
    b, i = _pasted(30000)
    session = b.session()
    session.prompts.append(Prompt(b.requests[i].timestamp, 335))  # a short typed prompt
    assert run(ContextBloat(), session) == []


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


def test_codex_context_re_sent_at_a_new_turn_is_not_a_pasted_file() -> None:
    """019c8a59 request 10: after a 19-minute pause the context grew by ~24.6k tokens while
    the user typed 335 characters (Codex re-injects its instructions at a new turn) and the
    prompt cache was lost; that loss is the finding, not "don't paste whole files"."""
    run_ = corpus()
    found = run_.findings("019c8a59")
    assert [f for f in found if f.detector == "context_bloat"] == []
    [miss] = [f for f in found if f.detector == "cache_rewrite" and f.evidence[0]["turn"] == 10]
    assert miss.evidence[0]["kind"] == "idle"
