"""`python -m tokentrail`."""

from tokentrail.cli import main

main()
