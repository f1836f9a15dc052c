"""Secrets never leave the machine in evidence, notes or comments."""

from __future__ import annotations

import pytest

from tokentrail.redact import redact, short


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("export ANTHROPIC_API_KEY=sk-ant-api03-abcdefghijklmnop", "sk-ant-api03"),
        ("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstu python x.py", "sk-proj-abc"),
        ("git push https://x-access-token:ghs_abcdefghijklmnopqrstuvwxyz@github.com/o/r", "ghs_"),
        ("git clone https://alice:hunter2@example.com/repo.git", "hunter2"),
        ('curl -H "Authorization: Bearer abc.def.ghi" https://api', "abc.def.ghi"),
        ("aws s3 ls --profile x AKIAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP"),
        ("psql --password=s3cret db", "s3cret"),
        ("DB_PASSWORD='two words' ./run", "two words"),
        ("gh auth login --with-token ghp_0123456789abcdefghijABCDEFGHIJ", "ghp_0123"),
        ("TOKEN=eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0NTY3.SflKxwRJSMeKKF2QT4f", "eyJhbGci"),
        ("slack xoxb-1234567890-abcdef", "xoxb-1234"),
        ("HF token hf_abcdefghijklmnopqrstuvwx", "hf_abcdef"),
    ],
)
def test_secrets_are_redacted(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert "[REDACTED]" in out


@pytest.mark.parametrize(
    "text",
    [
        "mkdir -p src/app",
        "pytest -q tests/test_token_parsing.py",
        "ls -la",
        "npm test 2>&1 | tail",
        "cat src/auth/session.py",
        "git commit -m 'fix tokenizer'",
    ],
)
def test_ordinary_commands_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_short_is_one_redacted_line() -> None:
    assert short("a\n  b\tsecret=xyz " + "c" * 50, 20) == "a b secret=[REDACTE…"
