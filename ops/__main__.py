"""`python -m ops`: the operator CLI (ops/cli.py)."""
import sys

from ops.cli import main

sys.exit(main())
