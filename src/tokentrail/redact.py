"""Secrets out of every string taken from a log before it can leave the machine.

Everything that leaves the process passes through `redact`: terminal text, JSON, notes,
Markdown, HTML and the text of errors from remote APIs. It is a best-effort filter for the
common shapes (provider keys, tokens, private keys, passwords in URLs, in assignments, in
headers and on command lines); what it cannot recognise it leaves, so evidence stays short
by design.

Every pattern runs in linear time, whatever the input (the old ones took 33 s on a
10,000-character command):

- a pattern whose first part is an unbounded run may only start where such a run starts
  (a lookbehind on the same characters), so no two attempts scan the same run, and what
  follows is either bounded or consumed by the match;
- every pattern begins with a literal character and checks its left boundary *after* it
  (`s(?<![...]s)k-...`), so the regex engine skips, by a fast character-set scan, every
  position where no secret can start;
- case-insensitive patterns run over an ASCII-lowercased copy of the same length (an
  IGNORECASE pattern gets no such fast scan), and the spans they find are cut from the
  original.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

MARK = "[REDACTED]"
_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_KEY_CHARS = "A-Za-z0-9_-"  # a run of these is one token: a secret starts where it starts
_ALNUM = "A-Za-z0-9"  # an AWS key id may follow an underscore (`MY_AKIA...`)


def _starts(shapes: Iterable[tuple[str, str]]) -> str:
    """One alternation of (left-boundary class, pattern) shapes, grouped by first literal
    character, each checking its boundary after that character (see the module doc)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for boundary, pattern in shapes:
        cut = 2 if pattern[0] == "\\" else 1  # an escaped first character is two long
        first, rest = pattern[:cut], pattern[cut:]
        groups.setdefault((first, boundary), []).append(rest)
    parts = []
    for (first, boundary), rests in groups.items():
        check = f"(?<![{boundary}]{first})" if boundary else ""
        parts.append(f"{first}{check}(?:{'|'.join(rests)})")
    return "|".join(parts)


def _word(*words: str) -> str:
    """Alternatives that start a word (lowercase text), in the fast-scan form."""
    return _starts(("a-z0-9_", w) for w in words)


_KEYS = re.compile(
    _starts(
        [
            (_KEY_CHARS, r"sk-ant-[A-Za-z0-9_-]{8,}"),
            (_KEY_CHARS, r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}"),
            (_KEY_CHARS, r"gh[pousr]_[A-Za-z0-9]{16,}"),
            (_KEY_CHARS, r"github_pat_[A-Za-z0-9_]{20,}"),
            (_KEY_CHARS, r"glpat-[A-Za-z0-9_-]{16,}"),
            (_ALNUM, r"A(?:KIA|SIA|GPA|IDA|ROA|IPA|NPA|NVA|BIA|CCA)[0-9A-Z]{16}"),
            (_KEY_CHARS, r"xox[abposr]-[A-Za-z0-9-]{8,}"),
            (_KEY_CHARS, r"xapp-[A-Za-z0-9-]{8,}"),
            (_KEY_CHARS, r"AIza[0-9A-Za-z_-]{30,}"),
            (_KEY_CHARS, r"ya29\.[0-9A-Za-z_-]{20,}"),
            (_KEY_CHARS, r"hf_[A-Za-z0-9]{20,}"),
            (_KEY_CHARS, r"npm_[A-Za-z0-9]{20,}"),
            (_KEY_CHARS, r"pypi-[A-Za-z0-9_-]{20,}"),
            (_KEY_CHARS, r"sk_(?:live|test)_[A-Za-z0-9]{16,}"),
            (_KEY_CHARS, r"rk_(?:live|test)_[A-Za-z0-9]{16,}"),
            (_KEY_CHARS, r"whsec_[A-Za-z0-9]{16,}"),
            (_KEY_CHARS, r"SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),
            (_KEY_CHARS, r"dop_v1_[a-f0-9]{32,}"),
            (_KEY_CHARS, r"gsk_[A-Za-z0-9]{20,}"),
            (_KEY_CHARS, r"xai-[A-Za-z0-9]{20,}"),
            (_KEY_CHARS, r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{16,}"),
            (_KEY_CHARS, r"lin_api_[A-Za-z0-9]{20,}"),
            (_KEY_CHARS, r"dapi[a-f0-9]{32}"),
            (_KEY_CHARS, r"AGE-SECRET-KEY-1[0-9A-Z]{20,}"),
            # a JWT: three base64url segments, the first two JSON objects ("eyJ")
            (_KEY_CHARS, r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
            # webhook URLs are credentials in themselves
            ("", r"hooks\.slack\.com/services/[A-Za-z0-9/_-]{8,}"),
            ("", r"discord(?:app)?\.com/api/webhooks/[0-9]{5,}/[A-Za-z0-9_-]{8,}"),
        ]
    )
)
# A private key: the block from its BEGIN line to its END line (or to the end of the text
# when it was cut), and bare key bodies (DER "MII...", OpenSSH "b3BlbnNzaC1rZXktdjE...")
# with the base64 lines that follow them.
_PEM_BEGIN = re.compile(r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_KEY_BODY = re.compile(
    "(?:"
    + _starts(
        [
            ("A-Za-z0-9+/=", r"MII[A-Za-z0-9+/]{60,}"),
            ("A-Za-z0-9+/=", r"b3BlbnNzaC1rZXktdjE[A-Za-z0-9+/]{20,}"),
        ]
    )
    + r")={0,2}(?:\s+[A-Za-z0-9+/]{16,}={0,2})*"
)
# user:password@ in a URL: attempts start only at "://", and userinfo cannot hold "/", so
# no attempt scans past the next URL.
_URL_CREDENTIALS = re.compile(r"://([^/\s:@]+):([^/\s@]+)@")

# The case-insensitive patterns below run over ASCII-lowercased text; group 2 is the secret.
_NOT_DONE = r"(?!\\?\[redacted)"  # not again (also not as Markdown-escaped \[REDACTED\])
# A name whose value is a secret must *end* with one of these, right before `=` or `:`
# (so `max_tokens`, `TOKEN_FILE` or `author` are left alone).
_SECRET_NAME = (
    r"(?:token|secret[_.-]?key|secret|password|passwd|pwd|passphrase|credentials?|auth"
    r"|signature|sig|api[_.-]?key|(?:private|access|client|master|encryption|signing)[_.-]?key)"
)
_VALUE = r"(\"[^\"]*\"?|'[^']*'?|[^\s'\"]+)"
_ASSIGNMENT = re.compile(r"(" + _SECRET_NAME + r"[\"']?[ \t]*[=:][ \t]*)" + _NOT_DONE + _VALUE)
_HEADER = re.compile(
    r"((?:"
    + _word(r"proxy-authorization", r"authorization")
    + r")\s*:\s*(?:bearer|basic|token|digest|negotiate)?\s*|(?:"
    + _word(r"bearer")
    + r")\s+|(?:"
    + _word(r"cookie")
    + r")\s*:\s*)"
    + _NOT_DONE
    + r"([^\s'\"]+(?: [^\s'\"=]+=[^\s'\"]+)*)"
)
_FLAG_VALUE = re.compile(
    r"(-(?<![\w-]-)-(?:[a-z0-9]+-)*(?:password|passwd|pass|token|secret|api-?key|auth"
    r"|access-key|private-key|client-secret)\s+)(?!-)" + _NOT_DONE + r"(\S+)"
)
# curl -u / --user user:password (the password part only)
_USER_PASSWORD = re.compile(
    r"(-(?<![\w-]-)(?:u|-user|-proxy-user)\s*['\"]?[^\s:'\"]{1,256}:)" + _NOT_DONE + r"([^\s'\"]+)"
)
# `aws configure set aws_secret_access_key VALUE` and friends: a name, a space, a value
_NAMED_VALUE = re.compile(
    r"((?:" + _word("aws_secret_access_key", "aws_session_token", "secret_access_key") + r")\s+)"
    r"(?![=:])" + _NOT_DONE + r"(\S+)"
)
_MYSQL = re.compile(_word("mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlsh", "mariadb"))
_MYSQL_PASSWORD = re.compile(r"(-(?<![\w-]-)p)" + _NOT_DONE + r"(\S+)")
_SSHPASS = re.compile(
    r"((?:" + _word("sshpass") + r")(?:\s+-[a-z]+){0,3}\s+-p\s*)" + _NOT_DONE + r"(\S+)"
)
# redis-cli's -a PASSWORD, in a text that runs redis-cli
_REDIS_PASSWORD = re.compile(r"(-(?<![\w-]-)a\s+)" + _NOT_DONE + r"(\S+)")


# Every pattern above needs one of these (lowercased) in the text: one fast scan decides
# that most strings (ids, model names, times, paths) have nothing to redact. Keep in sync.
_TRIGGER = re.compile(
    r"sk-|sk_|rk_|gh[pousr]_|github_pat|glpat|a(?:kia|sia|gpa|ida|roa|ipa|npa|nva|bia|cca)"
    r"|xox|xapp|aiza|ya29|hf_|npm_|pypi|whsec|sg\.|dop_v1|gsk_|xai-|shp|lin_api|dapi"
    r"|age-secret|eyj|hooks\.slack|discord|mii|b3blbnnz|private key|://|auth|bearer|cookie"
    r"|token|secret|pass|pwd|credential|sig|key|-u|mysql|mariadb|redis-cli"
)


def _private_keys(text: str) -> str:
    """Every private-key block, from BEGIN to END (or to the end when END is missing)."""
    out: list[str] = []
    pos = 0
    while True:
        begin = _PEM_BEGIN.search(text, pos)
        if begin is None:
            break
        end = _PEM_END.search(text, begin.end())
        out.append(text[pos : begin.start()])
        out.append(MARK)
        if end is None:
            return "".join(out)
        pos = end.end()
    out.append(text[pos:])
    return "".join(out)


def _values(text: str, pattern: re.Pattern[str]) -> str:
    """`text` with group 2 of each match of a lowercase `pattern` replaced by MARK."""
    out: list[str] = []
    pos = 0
    for match in pattern.finditer(_lower(text)):
        start, end = match.span(2)
        out.append(text[pos:start])
        out.append(MARK)
        pos = end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def redact(text: str) -> str:
    """`text` with recognisable secrets replaced by [REDACTED]."""
    if not _TRIGGER.search(_lower(text)):
        return text
    if "PRIVATE KEY" in text:
        text = _private_keys(text)
    text = _KEYS.sub(MARK, text)
    text = _KEY_BODY.sub(MARK, text)
    if "://" in text:
        text = _URL_CREDENTIALS.sub(lambda m: f"://{m[1]}:{MARK}@", text)
    for pattern in (_HEADER, _ASSIGNMENT, _FLAG_VALUE, _USER_PASSWORD, _NAMED_VALUE):
        text = _values(text, pattern)
    lowered = _lower(text)
    if _MYSQL.search(lowered):
        text = _values(text, _MYSQL_PASSWORD)
    if "sshpass" in lowered:
        text = _values(text, _SSHPASS)
    if "redis-cli" in lowered:
        text = _values(text, _REDIS_PASSWORD)
    return text


def _lower(text: str) -> str:
    """ASCII letters lowered, nothing else changed (offsets stay those of `text`)."""
    return text.lower() if text.isascii() else text.translate(_LOWER)


def redact_lines(text: str) -> str:
    """`redact` line by line: the same result for text whose values were flattened to one
    line each, at a cost that stays small on a long rendered table."""
    if not _TRIGGER.search(_lower(text)):
        return text
    return "\n".join(redact(line) for line in text.split("\n"))


def short(text: str, limit: int) -> str:
    """One line, redacted, at most `limit` characters."""
    text = redact(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"
