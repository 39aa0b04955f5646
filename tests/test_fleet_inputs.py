# SPDX-License-Identifier: GPL-2.0-or-later
"""Fleet inputs: which reports the PATH arguments name."""

from __future__ import annotations

import os

from balloon_oom.fleet import expand_inputs
from tests.fleet_reports import needs_samples


pytestmark = needs_samples


def test_expand_directory_of_reports(fleet_dir):
    # The collection directory stands for its report children; the .md5 stray is passed over,
    # the empty directory inside a collection is not a report and is passed over too.
    got = expand_inputs([str(fleet_dir)])
    names = [os.path.basename(i.path) for i in got]
    assert names == ["a-kvm-off", "b-kvm-off-copy", "c-kvm-off.tar.xz", "d-hyperv",
                     "d-no-balloon", "d-xen", "e-corrupt.tar.xz"]
    assert all(i.error is None for i in got)


def test_expand_glob_dedupe_and_missing(fleet_dir):
    a = str(fleet_dir / "a-kvm-off")
    got = expand_inputs([str(fleet_dir / "a-*"), a, str(fleet_dir / "nothing-*"),
                         str(fleet_dir / "f-empty")])
    assert [i.path for i in got] == [a, str(fleet_dir / "nothing-*"), str(fleet_dir / "f-empty")]
    assert got[0].error is None
    assert got[1].error.endswith("no file matches this pattern")
    assert "no sosreport here" in got[2].error
