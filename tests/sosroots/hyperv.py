# SPDX-License-Identifier: GPL-2.0-or-later
"""Hyper-V guests (hand-made: upstream hv_balloon text, and the Virtuozzo spelling)."""

from __future__ import annotations

from tests.sosroots.fakeroot import SEED_DOC, FakeRoot, read


def _hv_upstream(pages_ballooned: int) -> str:
    """hv-balloon text per hv_balloon.c's show function, hv_balloon_debug_show()."""
    out = "%-22s: %u.%u\n" % ("host_version", 2, 0)
    out += "%-22s:" % "capabilities" + " enabled" + " hot_add" + "\n"
    out += "%-22s: %u" % ("state", 1) + " (%s)\n" % "Initialized"
    out += "%-22s: %d\n" % ("page_size", 4096)
    out += "%-22s: %u\n" % ("pages_added", 0)
    out += "%-22s: %u\n" % ("pages_onlined", 0)
    out += "%-22s: %u\n" % ("pages_ballooned", pages_ballooned)
    # vm_memory_committed() 150000 + ballooned + floor(104 MiB + 440000/8)
    out += "%-22s: %u\n" % ("total_pages_committed", 150000 + pages_ballooned + 26624 + 55000)
    out += "%-22s: %u\n" % ("max_dynamic_page_count", 1048576)
    return out


def _hyperv_common(root: FakeRoot, how: str) -> None:
    root.text("sys/module/hv_balloon/parameters/hot_add", "Y\n", how + " (bool parameter)")
    root.text("sys/module/hv_balloon/parameters/pressure_report_delay", "45\n",
              how + " (driver default)")
    root.text("sys/class/dmi/id/sys_vendor", "Microsoft Corporation\n", how)
    root.text("sys/class/dmi/id/product_name", "Virtual Machine\n", how)
    root.text("proc/uptime", "86400.12 170000.50\n", how)


def hyperv_upstream(root: FakeRoot) -> FakeRoot:
    root.description = "Hyper-V guest (hand-made), 6.1 kernel, 256 MiB ballooned (65536 pages)"
    how = "hand-made: no Hyper-V capture exists"
    root.text("sys/kernel/debug/hv-balloon", _hv_upstream(65536),
              how + "; each line written with the format string of hv_balloon.c's "
                    "hv_balloon_debug_show (drivers/hv/hv_balloon.c), upstream spellings")
    root.text("proc/sys/kernel/osrelease", "6.1.0-56-amd64\n", how)
    _hyperv_common(root, how)
    return root


def hyperv_virtuozzo(root: FakeRoot) -> FakeRoot:
    root.description = "Hyper-V guest on a Virtuozzo kernel: the seed document's hv-balloon text"
    lines = []
    for line in read(SEED_DOC).splitlines():
        body = line.lstrip("+").strip()
        if line.startswith("+  ") and " : " in body or body.startswith("max_dynamic_page_count:"):
            lines.append(body.split("//")[0].rstrip())
    sample = lines[:10]
    root.text("sys/kernel/debug/hv-balloon", "\n".join(sample) + "\n",
              "the hv-balloon example of the Virtuozzo feature description "
              "(docs/seed-balloon-usage-information-visible-by-guest.txt), lines as printed "
              "there without the // comments: pages_ballooned_out, vm_pages_commited, "
              "total_pages_commited spellings")
    how = "hand-made: no Hyper-V capture exists"
    root.text("proc/sys/kernel/osrelease", "5.14.0-70.22.1.vz9.17.6\n",
              "hand-made after the vzkernel branch named in the seed document")
    _hyperv_common(root, how)
    return root

