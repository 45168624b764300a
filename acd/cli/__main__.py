"""`python -m acd.cli`: the same as the `acd` command."""

from acd.cli.main import main

raise SystemExit(main())
