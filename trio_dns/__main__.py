"""`python -m trio_dns`: the same as the `trio-dns` command."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
