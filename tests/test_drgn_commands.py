# SPDX-License-Identifier: GPL-2.0-or-later
"""balloon_drgn.commands: the ``balloon`` drgn command's text summary."""

from balloon_drgn.commands import format_snapshot


def test_summary_lines():
    snap = {
        "release": "6.1.0-56-amd64",
        "memory": {"page_size": 4096, "totalram_pages": 51568, "nr_balloon_pages": None,
                   "vm_events": {"BALLOON_INFLATE": 65536}},
        "virtio": [{"device": "virtio0", "num_pages": 65536, "deflate_on_oom": False,
                    "feature_names": ["STATS_VQ", "VERSION_1"]}],
        "hyperv": None, "vmware": None, "s390_cmm": None, "pseries_cmm": None,
        "xen": {"current_pages": 0, "balloon_low": 0},  # not a Xen guest: not shown
        "missing_debuginfo": [{"module": "hv_balloon", "expected_path": "/x/hv_balloon.ko"}],
        "panic": {"message": "Out of memory: system-wide panic_on_oom is enabled",
                  "taken_at_oom": True},
    }
    assert format_snapshot(snap).splitlines() == [
        "kernel 6.1.0-56-amd64: totalram 51568 pages (206272 kB), vm events {'BALLOON_INFLATE': 65536}",
        "virtio_balloon virtio0: num_pages 65536 (262144 kB), deflate_on_oom False, features STATS_VQ VERSION_1",
        "missing debuginfo: hv_balloon (expected /x/hv_balloon.ko)",
        "panic: Out of memory: system-wide panic_on_oom is enabled (at OOM: True)",
    ]
