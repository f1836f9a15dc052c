from tests.builtin.detectors import Build, call, run
from tokentrail.builtin.detectors.generated_read import GeneratedRead, kind_of


def test_reading_a_lockfile_whole_is_waste_with_a_grep_lesson() -> None:
    b = Build()
    b.turn(call("Read", files=("/app/package-lock.json",), tokens=25000))
    b.turns(4)
    [f] = run(GeneratedRead(), b.session())
    assert f.wasted_tokens == 25000 * 4
    assert f.lesson == "Never read `package-lock.json` whole; grep it for the entry you need."


def test_cat_of_a_minified_bundle_counts_too() -> None:
    b = Build()
    b.turn(call("Bash", command="cat dist/app.min.js", tokens=5000))
    b.turn()
    [f] = run(GeneratedRead(), b.session())
    assert "generated file" in f.title


def test_source_files_and_tiny_peeks_do_not_count() -> None:
    b = Build()
    b.turn(call("Read", files=("/app/src/lock.py",), tokens=5000))
    b.turn(call("Read", files=("/app/yarn.lock",), tokens=250))
    b.turn(call("Bash", command="grep lodash package-lock.json", tokens=400))
    b.turns(2)
    assert run(GeneratedRead(), b.session()) == []
    assert kind_of("/x/Cargo.lock") == "lockfile"
    assert kind_of("/x/src/main.rs") is None
