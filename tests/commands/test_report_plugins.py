"""A third-party plugin's adapter and detector show up in the branch report like built-ins."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.gitrepo import CLI, Env, GitRepo, at, stamp


def test_third_party_detector_and_adapter_in_the_report(
    plugin_env: dict[str, str], tmp_path: Path
) -> None:
    env = Env(
        tmp_path / "git",
        extra={k: v for k, v in plugin_env.items() if k in ("PYTHONPATH", "FAKE_AGENT_DIR")},
    )
    repo = GitRepo(tmp_path / "git" / "app", env)
    repo.commit("base", at(0))
    repo.checkout("-b", "feature")
    records = [
        {
            "ts": stamp(at(5 + i)),
            "model": "fake-model-1",
            "in": 1000,
            "out": 100,
            "cwd": str(repo.path),
            "branch": "feature",
        }
        for i in range(5)
    ]
    (Path(plugin_env["FAKE_AGENT_DIR"]) / "long.fake.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records)
    )
    repo.commit("work", at(20))
    environ = env.environ()
    environ.pop("TOKENTRAIL_PLUGINS", None)

    def tokentrail(*args: str) -> str:
        """The installed entry point: plugins are discovered as a user's would be."""
        return subprocess.run(
            [CLI, *args], cwd=repo.path, env=environ, capture_output=True, text=True, check=True
        ).stdout

    doc = json.loads(tokentrail("report", "--base", "main", "--json"))
    assert [(s["agent"], s["id"], s["link"]) for s in doc["sessions"]] == [
        ("fake-agent", "long", "window")
    ]
    assert doc["totals"]["requests"] == 5
    assert doc["totals"]["cost_usd"] == 5 * 1100 * 0.000002
    (finding,) = [f for f in doc["findings"] if f["detector"] == "fake-long-session"]
    assert finding["session"] == "long" and finding["wasted_tokens"] > 0
    assert doc["commits"][0]["sessions"][0]["findings"][0]["detector"] == "fake-long-session"
    text = tokentrail("report", "--base", "main")
    assert "fake-long-session" in text
    # a third-party renderer registered for `report` takes over --format markdown for it
    environ["FAKE_REPORT_MARKDOWN"] = "1"
    own = tokentrail("report", "--base", "main", "--format", "markdown")
    assert own == "# fake report: 5 requests on feature\n"
    listing = tokentrail("sessions", "--format", "markdown")
    assert "fake report" not in listing and "long" in listing
