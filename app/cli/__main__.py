"""`python -m app.cli`: the `webleads` command without its installed script."""

from app.cli import main

main()
