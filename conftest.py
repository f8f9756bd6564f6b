"""Root pytest configuration: doctests run over src/, README.md and docs/."""

collect_ignore = ["src/quotient/__main__.py"]
