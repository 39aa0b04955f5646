"""Where the project's ``shared/`` folder is: beside the checkout (as CI lays
it out), else ``/work/shared``; ``$BALLOON_OOM_SHARED`` overrides both."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _find() -> Path:
    env = os.environ.get("BALLOON_OOM_SHARED")
    candidates = ([Path(env)] if env else []) + [REPO.parent / "shared", Path("/work/shared")]
    for candidate in candidates:
        if (candidate / "real-captures").is_dir():
            return candidate
    return candidates[0]


SHARED = _find()
CAPTURES = SHARED / "real-captures"
DOCS = SHARED / "docs"
