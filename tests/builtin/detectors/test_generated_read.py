from tests.builtin.detectors import Build, call, corpus, run
from tokentrail.builtin.detectors.generated_read import GeneratedRead, kind_of


def test_reading_a_lockfile_whole_is_waste_with_a_grep_lesson() -> None:
    b = Build()
    b.turn(call("Read", files=("/app/package-lock.json",), tokens=25000))
    b.turns(4)
    [f] = run(GeneratedRead(), b.session())
    assert f.wasted_tokens == (25000 - 500) * 4  # beyond what a grep would have shown
    assert f.lesson == "Never read `package-lock.json` whole; grep it for the entry you need."


def test_cat_of_a_minified_bundle_counts_too() -> None:
    b = Build()
    b.turn(call("Bash", command="cat dist/app.min.js", tokens=5000))
    b.turn()
    [f] = run(GeneratedRead(), b.session())
    assert f.title.startswith("minified file app.min.js")


def test_source_files_and_tiny_peeks_do_not_count() -> None:
    b = Build()
    b.turn(call("Read", files=("/app/src/lock.py",), tokens=5000))
    b.turn(call("Read", files=("/app/yarn.lock",), tokens=250))
    b.turn(call("Bash", command="grep lodash package-lock.json", tokens=400))
    b.turns(2)
    assert run(GeneratedRead(), b.session()) == []
    assert kind_of("/x/Cargo.lock") == "lockfile"
    assert kind_of("/x/src/main.rs") is None


def test_test_data_the_session_tests_against_and_files_it_edits_are_work() -> None:
    b = Build()
    b.turn(call("Read", files=("/app/test/fixtures/big.json",), tokens=9000))
    b.turn(call("Read", files=("/app/dist/bundle.js",), tokens=9000))
    b.turn(call("Edit", files=("/app/dist/bundle.js",), writes=True))
    b.turn(call("Bash", command="pytest tests/test_big.py -q", tokens=300))
    b.turn(call("Read", files=("/app/test/fixtures/other.json",), tokens=9000))  # after it
    b.turns(3)
    [f] = run(GeneratedRead(), b.session())
    assert f.title.startswith("test data other.json")


def test_fixture_transcripts_the_renderer_under_work_reads_are_not_waste() -> None:
    """8463c716 read three transcript fixtures, then edited the renderer's test and ran
    `mix test` against them: they were the task's input ($0.80 claimed before)."""
    run_ = corpus()
    fixtures = [
        c
        for c in run_.session("8463c716").tool_calls
        if c.name == "Read" and "/test/fixtures/transcripts/" in "".join(c.files)
    ]
    assert len(fixtures) >= 3
    assert [f for f in run_.findings("8463c716") if f.detector == "generated_read"] == []
