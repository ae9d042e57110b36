"""``python -m eoc.cli``: the same as the ``eoc`` command (scripts/demo runs it this way)."""

import sys

from eoc.cli import main

sys.exit(main())
