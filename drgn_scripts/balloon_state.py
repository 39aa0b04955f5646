# SPDX-License-Identifier: GPL-2.0-or-later
"""Print the balloon snapshot of a kernel as JSON.

    drgn -c VMCORE -s VMLINUX drgn_scripts/balloon_state.py [--log]
    drgn drgn_scripts/balloon_state.py            # the running kernel
"""

import json
import os
import sys

# drgn runs this file as a script: from a checkout, make the balloon_drgn
# package next to it (and balloon_oom, whose feature table it shares)
# importable when they are not installed.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [_here, os.path.dirname(_here)]

from balloon_drgn.snapshot import balloon_snapshot, snapshot_to_dict  # noqa: E402

if __name__ == "__main__":
    with_log = "--log" in sys.argv[1:]
    print(json.dumps(snapshot_to_dict(balloon_snapshot(prog), log=with_log), indent=2))  # type: ignore[name-defined]  # noqa: F821
