"""``python -m eoc.cli``: the same as the ``eoc`` command (scripts/demo runs it this way)."""

import sys

from . import main

sys.exit(main())
