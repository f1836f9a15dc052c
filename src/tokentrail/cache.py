"""A cache of parsed sessions, so a hook that runs on every commit answers in well under a
second on a machine with thousands of sessions.

One file per session under the user cache dir. An entry is used only when its fingerprint
(agent, parser version, and path + size + mtime of every file of the session) matches and
its checksum verifies; anything else — stale, corrupt, truncated, from another version — is
a miss, and the session is parsed again and the entry rewritten. Writes go to a temp file
renamed into place, so concurrent runs only ever see whole entries.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path

from tokentrail import __version__
from tokentrail.model import Session, SessionRef

FORMAT = b"tokentrail-session-cache-1\n"


def cache_dir() -> Path | None:
    """`$TOKENTRAIL_CACHE_DIR`, else the platform's user cache dir; None when disabled."""
    if os.environ.get("TOKENTRAIL_NO_CACHE"):
        return None
    explicit = os.environ.get("TOKENTRAIL_CACHE_DIR")
    if explicit:
        return Path(explicit)
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tokentrail" / "sessions"


def fingerprint(ref: SessionRef, parser_version: str) -> bytes:
    parts = [ref.agent, ref.id, parser_version, __version__]
    for path in ref.paths:
        try:
            st = path.stat()
        except OSError:
            return b""  # a file vanished: never cache a half-read session
        parts.append(f"{path}\0{st.st_size}\0{st.st_mtime_ns}")
    return "\n".join(parts).encode("utf-8", "surrogateescape")  # non-UTF-8 file names


class SessionCache:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.hits = self.misses = self.rejected = 0

    def _entry(self, ref: SessionRef) -> Path:
        assert self.folder is not None
        raw = f"{ref.agent}\0{ref.id}\0{ref.path}".encode("utf-8", "surrogateescape")
        name = hashlib.sha256(raw).hexdigest()
        return self.folder / name[:2] / f"{name}.pickle"

    def get(self, ref: SessionRef, parser_version: str) -> Session | None:
        if self.folder is None:
            return None
        key = fingerprint(ref, parser_version)
        try:
            blob = self._entry(ref).read_bytes()
        except OSError:
            self.misses += 1
            return None
        session = self._verify(blob, key)
        if session is None:
            self.rejected += 1
        else:
            self.hits += 1
        return session

    @staticmethod
    def _verify(blob: bytes, key: bytes) -> Session | None:
        """The entry's session if the header, fingerprint and checksum all match."""
        header, _, rest = blob.partition(b"\n")
        if header + b"\n" != FORMAT:
            return None
        stored_key, _, rest = rest.partition(b"\n\0\n")
        digest, _, payload = rest.partition(b"\n")
        if not key or stored_key != key or hashlib.sha256(payload).hexdigest().encode() != digest:
            return None
        try:
            session = pickle.loads(payload)
        except Exception:
            return None
        return session if isinstance(session, Session) else None

    def put(self, ref: SessionRef, parser_version: str, session: Session) -> None:
        if self.folder is None:
            return
        key = fingerprint(ref, parser_version)
        if not key:
            return
        payload = pickle.dumps(session, protocol=pickle.HIGHEST_PROTOCOL)
        blob = b"".join(
            [FORMAT, key, b"\n\0\n", hashlib.sha256(payload).hexdigest().encode(), b"\n", payload]
        )
        target = self._entry(ref)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        except OSError:
            return  # a read-only or full cache dir only costs speed
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, target)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
