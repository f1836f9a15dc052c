import pytest

from tests.builtin.detectors import Build, call, run
from tokentrail.builtin.detectors.noisy_output import NoisyOutput


def _one(tool: str, tokens: int, **kw: object) -> Build:
    b = Build()
    b.turn(call(tool, tokens=tokens, **kw))  # type: ignore[arg-type]
    b.turns(20)
    return b


def test_big_test_log_counts_its_carry_beyond_a_truncated_size() -> None:
    b = _one("Bash", 40000, command="npm install")
    [f] = run(NoisyOutput(), b.session())
    assert f.wasted_tokens == pytest.approx((40000 - 2000) * 20, rel=0.001)
    assert "npm install" in f.lesson and "tail" in f.lesson
    assert f.evidence == [
        {"turn": 0, "tool": "Bash", "command": "npm install", "result_tokens": 40000}
    ]


def test_output_below_threshold_or_already_trimmed_or_file_reads_are_not_noise() -> None:
    assert run(NoisyOutput(), _one("Bash", 7000, command="pytest").session()) == []
    trimmed = _one("Bash", 9000, command="pytest 2>&1 | tail -200")
    assert run(NoisyOutput(), trimmed.session()) == []
    assert run(NoisyOutput(), _one("Read", 30000, files=("/big.py",)).session()) == []


def test_big_search_result_is_noise_with_a_search_lesson() -> None:
    [f] = run(NoisyOutput(), _one("Grep", 12000, files=()).session())
    assert "Grep" in f.lesson
