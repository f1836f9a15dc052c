"""tokentrail: what the AI coding-agent sessions behind a branch cost, and why."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tokentrail")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"
