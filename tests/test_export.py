"""`tokentrail export`: the Parquet files loaded into real engines (DuckDB, and ClickHouse's
engine in-process through chdb) give, in SQL, the totals `report --json` and `rollup --json`
give; NDJSON and CSV hold the same rows; OTLP JSON logs reach a local HTTP receiver and parse
strictly as an OTLP ExportLogsServiceRequest."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chdb
import duckdb
import orjson
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.gitrepo import Feature, feature_branch
from tests.teamrepos import Team, cli_run
from tokentrail.export import SCHEMA

SUMS = (
    "sum(requests), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_tokens), "
    "sum(output_tokens), round(sum(cost_usd), 4)"
)
REQUEST_SUMS = (
    "count(*), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_tokens), "
    "sum(output_tokens), round(sum(cost_usd), 4)"
)
FIGURES = ("requests", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")


def figures(row: dict[str, Any]) -> tuple[Any, ...]:
    return (*(row[k] for k in FIGURES), round(row["cost_usd"] or 0.0, 4))


def duck(sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in duckdb.sql(sql).fetchall()]


def clickhouse(sql: str) -> list[tuple[Any, ...]]:
    """chdb runs ClickHouse's engine in-process; JSONCompact keeps the types."""
    text = str(chdb.query(sql, "JSONCompact"))
    rows = orjson.loads(text)["data"] if text.strip() else []
    return [tuple(int(v) if isinstance(v, str) and v.isdigit() else v for v in r) for r in rows]


def as_tuple(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*(int(v) for v in values[:-1]), round(float(values[-1] or 0.0), 4))


@pytest.fixture
def branch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Feature]:
    """tests/gitrepo's feature branch, with the in-process CLI pointed at its logs."""
    f = feature_branch(tmp_path)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(f.env.claude_dir))
    monkeypatch.setenv("CODEX_HOME", str(f.env.codex_home))
    for name in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM"):
        monkeypatch.setenv(name, f.env.environ()[name])
    yield f


def test_parquet_from_logs_in_duckdb_and_clickhouse(branch: Feature, tmp_path: Path) -> None:
    report = cli_run(branch.repo.path, "report", "--json")
    out = tmp_path / "export"
    manifest = cli_run(
        branch.repo.path, "export", "--format", "parquet", "--out", str(out), "--json"
    )
    assert manifest["export_version"] == 1 and manifest["not_filled"] == {}
    assert set(manifest["tables"]) == set(SCHEMA)
    requests, commits = out / "requests.parquet", out / "commits.parquet"
    want = {c["sha"]: figures(c) for c in report["commits"]}
    want[None] = figures(report["pending"])
    queries = {
        "duckdb": (duck, f"'{requests}'", f"'{commits}'"),
        "clickhouse": (clickhouse, f"file('{requests}', Parquet)", f"file('{commits}', Parquet)"),
    }
    for engine, (run, req_table, commit_table) in queries.items():
        per_commit = (
            {
                r[0]: as_tuple(r[1:])
                for r in run(f"SELECT `commit`, {REQUEST_SUMS} FROM {req_table} GROUP BY `commit`")
            }
            if engine == "clickhouse"
            else {
                r[0]: as_tuple(r[1:])
                for r in run(f'SELECT "commit", {REQUEST_SUMS} FROM {req_table} GROUP BY "commit"')
            }
        )
        assert per_commit == want, engine
        # the commits table (the note grain) adds up to the same figures
        quote = "`" if engine == "clickhouse" else '"'
        grain = {
            r[0]: as_tuple(r[1:])
            for r in run(
                f"SELECT {quote}commit{quote}, {SUMS} FROM {commit_table} "
                f"GROUP BY {quote}commit{quote}"
            )
        }
        assert grain == want, engine
        (total,) = run(f"SELECT {REQUEST_SUMS} FROM {req_table}")
        assert as_tuple(total) == figures(report["totals"]), engine
        models = dict(run(f"SELECT model, count(*) FROM {req_table} GROUP BY model"))
        mix: dict[str, int] = {}
        for s in report["sessions"]:
            for model, n in s["models"].items():
                mix[model] = mix.get(model, 0) + n
        assert {k: int(v) for k, v in models.items()} == mix, engine


def test_parquet_from_notes_matches_rollup_in_both_engines(team: Team, tmp_path: Path) -> None:
    repos = [str(p) for p in team.repos.values()]
    rollup = cli_run(team.root, "rollup", *repos, "--json")
    out = tmp_path / "notes-export"
    manifest = cli_run(
        team.root,
        "export",
        *repos,
        "--from-notes",
        "--format",
        "parquet",
        "--out",
        str(out),
        "--json",
    )
    assert "requests" in manifest["not_filled"] and not (out / "requests.parquet").exists()
    assert set(manifest["tables"]) == {"sessions", "commits", "findings"}
    table = out / "commits.parquet"
    for run, source in ((duck, f"'{table}'"), (clickhouse, f"file('{table}', Parquet)")):
        per_repo = {
            r[0]: as_tuple(r[1:]) for r in run(f"SELECT repo, {SUMS} FROM {source} GROUP BY repo")
        }
        assert per_repo == {g["repo"]: figures(g) for g in rollup["by"]["repo"]}
        per_model = {
            r[0]: as_tuple(r[1:]) for r in run(f"SELECT model, {SUMS} FROM {source} GROUP BY model")
        }
        assert per_model == {g["model"]: figures(g) for g in rollup["by"]["model"]}
        per_week = {
            r[0]: as_tuple(r[1:]) for r in run(f"SELECT week, {SUMS} FROM {source} GROUP BY week")
        }
        assert per_week == {g["week"]: figures(g) for g in rollup["by"]["week"]}
    # per commit: the receipts `report --from-notes` builds for each repository's main
    for name, repo in team.repos.items():
        report = cli_run(repo, "report", "--from-notes", "--base", team.bases[name], "--json")
        want = {c["sha"]: figures(c) for c in report["commits"] if c["sessions"]}
        for run, source, quote in (
            (duck, f"'{table}'", '"'),
            (clickhouse, f"file('{table}', Parquet)", "`"),
        ):
            got = {
                r[0]: as_tuple(r[1:])
                for r in run(
                    f"SELECT {quote}commit{quote}, {SUMS} FROM {source} WHERE repo = '{name}' "
                    f"AND {quote}commit{quote} IN ({', '.join(repr(s) for s in want)}) "
                    f"GROUP BY {quote}commit{quote}"
                )
            }
            assert got == want, name
    waste = duck(
        f"SELECT detector, round(sum(wasted_usd), 6) FROM '{out / 'findings.parquet'}' "
        "GROUP BY detector"
    )
    assert [(c["cause"], round(c["wasted_usd"], 6)) for c in rollup["waste"]["by_cause"]] == waste


def test_ndjson_and_csv_hold_the_same_rows(team: Team, tmp_path: Path) -> None:
    repos = [str(p) for p in team.repos.values()]
    rollup = cli_run(team.root, "rollup", *repos, "--json")
    for fmt in ("ndjson", "csv"):
        cli_run(
            team.root,
            "export",
            *repos,
            "--from-notes",
            "--format",
            fmt,
            "--out",
            str(tmp_path / fmt),
        )
    lines = (tmp_path / "ndjson" / "commits.ndjson").read_bytes().splitlines()
    rows = [orjson.loads(line) for line in lines]
    with (tmp_path / "csv" / "commits.csv").open(newline="") as fh:
        table = list(csv.DictReader(fh))
    names = [n for n, _ in SCHEMA["commits"]]
    assert list(rows[0]) == names and list(table[0]) == names and len(rows) == len(table)
    assert sum(r["requests"] for r in rows) == rollup["totals"]["requests"]
    assert sum(int(r["requests"]) for r in table) == rollup["totals"]["requests"]
    assert round(sum(float(r["cost_usd"]) for r in table), 4) == round(
        rollup["totals"]["cost_usd"], 4
    )
    assert all(r["last"].endswith("Z") for r in rows)


def test_agent_filter_and_bad_usage(
    branch: Feature, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "codex"
    manifest = cli_run(
        branch.repo.path,
        "export",
        "--format",
        "ndjson",
        "--out",
        str(out),
        "--agent",
        "codex",
        "--json",
    )
    rows = [orjson.loads(x) for x in (out / "requests.ndjson").read_bytes().splitlines()]
    assert rows and {r["agent"] for r in rows} == {"codex"}
    assert manifest["tables"]["requests"]["rows"] == len(rows)
    from click.testing import CliRunner

    from tokentrail.cli import cli

    monkeypatch.chdir(branch.repo.path)
    result = CliRunner().invoke(
        cli, ["export", "--format", "csv", "--out", str(out), "--since", "7d", "--json"]
    )
    assert result.exit_code == 1 and orjson.loads(result.stdout)["error"]["code"] == "bad_usage"


def _otlp_request(body: bytes) -> Any:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    message = ExportLogsServiceRequest()
    json_format.Parse(body, message, ignore_unknown_fields=False)  # strict: every field known
    return message


def _attrs(record: Any) -> dict[str, Any]:
    out = {}
    for kv in record.attributes:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind)
    return out


def test_otlp_logs_reach_a_receiver_and_parse_as_otlp(
    branch: Feature, tmp_path: Path, httpserver: HTTPServer
) -> None:
    received: list[bytes] = []

    def receive(request: Request) -> Response:
        assert request.headers["Content-Type"] == "application/json"
        received.append(request.get_data())
        return Response("{}", status=200, content_type="application/json")

    httpserver.expect_request("/v1/logs", method="POST").respond_with_handler(receive)
    report = cli_run(branch.repo.path, "report", "--json")
    out = tmp_path / "otlp"
    manifest = cli_run(
        branch.repo.path,
        "export",
        "--format",
        "otlp",
        "--out",
        str(out),
        "--otlp-endpoint",
        httpserver.url_for("/v1/logs"),
        "--json",
    )
    assert manifest["posted"]["status"] == 200 and len(received) == 1
    assert received[0] == (out / "logs.json").read_bytes()
    message = _otlp_request(received[0])
    (resource,) = message.resource_logs
    records = resource.scope_logs[0].log_records
    assert len(records) == report["totals"]["requests"]
    attrs = [_attrs(r) for r in records]
    t = report["totals"]
    assert sum(a["gen_ai.usage.input_tokens"] for a in attrs) == (
        t["input_tokens"] + t["cache_read_tokens"] + t["cache_write_tokens"]
    )
    assert sum(a["gen_ai.usage.cache_read.input_tokens"] for a in attrs) == t["cache_read_tokens"]
    assert (
        sum(a["gen_ai.usage.cache_creation.input_tokens"] for a in attrs)
        == (t["cache_write_tokens"])
    )
    assert sum(a["gen_ai.usage.output_tokens"] for a in attrs) == t["output_tokens"]
    assert sum(a["gen_ai.usage.reasoning.output_tokens"] for a in attrs) == t["reasoning_tokens"]
    assert round(sum(a["tokentrail.cost_usd"] for a in attrs), 6) == round(t["cost_usd"], 6)
    assert {a["gen_ai.conversation.id"] for a in attrs} == {s["id"] for s in report["sessions"]}
    assert all(r.event_name == "gen_ai.client.inference.operation.details" for r in records)
    assert all(r.time_unix_nano > 0 for r in records)
    assert {a["gen_ai.request.model"] for a in attrs} >= {"gpt-5-codex"}


def test_otlp_from_notes_and_a_receiver_that_fails(
    team: Team, tmp_path: Path, httpserver: HTTPServer
) -> None:
    repos = [str(p) for p in team.repos.values()]
    cli_run(
        team.root,
        "export",
        *repos,
        "--from-notes",
        "--format",
        "otlp",
        "--out",
        str(tmp_path / "o"),
    )
    message = _otlp_request((tmp_path / "o" / "logs.json").read_bytes())
    records = message.resource_logs[0].scope_logs[0].log_records
    rollup = cli_run(team.root, "rollup", *repos, "--json")
    assert sum(_attrs(r)["tokentrail.requests"] for r in records) == rollup["totals"]["requests"]
    assert all(r.event_name == "tokentrail.commit.session" for r in records)
    httpserver.expect_request("/v1/logs").respond_with_data("no", status=503)
    from click.testing import CliRunner

    from tokentrail.cli import cli

    result = CliRunner().invoke(
        cli,
        [
            "export",
            *repos,
            "--from-notes",
            "--format",
            "otlp",
            "--out",
            str(tmp_path / "p"),
            "--otlp-endpoint",
            httpserver.url_for("/v1/logs"),
            "--json",
        ],
    )
    assert result.exit_code == 1
    error = orjson.loads(result.stdout)["error"]
    assert error["code"] == "otlp_post_failed" and "503" in error["message"]
