"""``python -m balloon_oom``: the same as the ``balloon-oom`` command."""

import sys

from .cli import main

sys.exit(main())
