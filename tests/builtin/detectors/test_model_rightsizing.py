from tests.builtin.detectors import Build, call, run
from tokentrail.builtin.detectors.model_rightsizing import ModelRightsizing, smaller_model


def test_short_tool_free_opus_subagent_calls_price_against_sonnet() -> None:
    b = Build(model="claude-opus-4-6")
    b.turn(call("Task", tokens=300))
    for _ in range(3):
        b.turn(subagent="lookup", output=80)
    [f] = run(ModelRightsizing(), b.session())
    assert "claude-sonnet-4-5" in f.lesson and f.wasted_usd > 0 and not f.measured
    assert len(f.claims) == 3


def test_main_thread_tool_users_long_writers_and_small_models_are_left_alone() -> None:
    b = Build(model="claude-opus-4-6")
    b.turns(4, output=50)  # main thread
    for _ in range(3):
        b.turn(subagent="writer", output=2000)
    for _ in range(3):
        b.turn(call("Grep", tokens=200), subagent="search", output=50)
    for _ in range(3):
        b.turn(subagent="cheap", output=50, model="claude-haiku-4-5")
    assert run(ModelRightsizing(), b.session()) == []
    assert smaller_model("gpt-5-mini") is None
