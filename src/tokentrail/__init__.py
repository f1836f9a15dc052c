"""tokentrail: what the AI coding-agent sessions behind a branch cost, and why."""

# The one place the version is written (pyproject.toml reads it from here): asking
# importlib.metadata at start-up would cost every hook run a scan of site-packages.
__version__ = "0.1.0"
