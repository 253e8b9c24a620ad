"""`python -m vaekit ...` (also what torchrun launches)."""

import sys

from vaekit.cli import main

sys.exit(main())
