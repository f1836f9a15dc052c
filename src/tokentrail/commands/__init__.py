"""One module per sub-command, like pre-commit's `commands/`."""
