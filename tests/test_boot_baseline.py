# SPDX-License-Identifier: GPL-2.0-or-later
"""The boot baseline: ``Memory:`` and the later ``Freeing … memory`` lines, per boot.

Line shapes, each from a public log (one line quoted per test):

- ``Freeing unused kernel memory: 924k freed`` (<= 3.10): a VirtualBox
  Ubuntu 12.04 guest's dmesg in a 2013 forum thread about a UVC webcam;
- ``Freeing unused kernel memory: 1224K (a0246000 - a0378000)`` (3.11-4.9):
  the boot log in Subbaraya Sundeep's qemu-devel cover letter "msf2: Add EMAC
  block to SmartFusion2 SoC";
- ``Freeing unused kernel memory: 180K (c05c7000 - c05f4000)``: an OpenWrt
  MIPS guest's console log;
- ``efi: Freeing EFI boot services memory: 43612K``: printed by
  efi_free_boot_services() (arch/x86/platform/efi/quirks.c) on UEFI guests;
  43612K is the figure issue 12 measured on an OVMF guest.
"""

import pytest

from balloon_oom.parsers.kernel_log import scan_log

BANNER = "[    0.000000] Linux version 3.2.0-54-generic (buildd@roseapple) (gcc version 4.6.3) #82"
MEMORY = ("[    0.000000] Memory: 1012292k/1048512k available (6576k kernel code, 452k absent, "
          "35768k reserved, 6620k data, 924k init)")


@pytest.mark.parametrize("line, kb", [
    ("[    1.397976] Freeing unused kernel memory: 924k freed", 924),
    ("[    0.565395] Freeing unused kernel memory: 1224K (a0246000 - a0378000)", 1224),
    ("[    0.752726] Freeing unused kernel memory: 180K (c05c7000 - c05f4000)", 180),
    ("[    0.971417] Freeing initrd memory: 1380K", 1380),
    ("[    0.190000] efi: Freeing EFI boot services memory: 43612K", 43612),
])
def test_every_freeing_form_is_counted(line, kb):
    scan = scan_log([BANNER, MEMORY, line], "sos_commands/kernel/dmesg")
    (bm,) = scan.boot_memory
    assert bm.freed_later_kb == kb
    assert bm.freed_evidence[0].line == 3
    assert bm.baseline_reserved_kb == 35768 - kb


def test_freeing_lines_that_are_not_boot_memory_are_not_counted():
    scan = scan_log([BANNER, MEMORY, "[    5.0] Freeing alive_cnt: 3",
                     "[    5.1] Freeing unused kernel memory: lots"], "x")
    assert scan.boot_memory[0].freed_later_kb == 0


def test_each_boot_has_its_own_baseline_and_events_carry_theirs():
    oom = "[  100.000000] hog invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0"
    kill = ("[  100.100000] Out of memory: Killed process {} (hog) total-vm:174712kB, "
            "anon-rss:173388kB, file-rss:4kB, shmem-rss:648kB, UID:0 pgtables:376kB "
            "oom_score_adj:0")
    lines = [BANNER, MEMORY, "[    1.0] Freeing unused kernel memory: 924k freed",
             oom, kill.format(111),
             BANNER, MEMORY.replace("35768k reserved", "99999k reserved"),
             oom, kill.format(222),
             BANNER, oom, kill.format(333)]
    scan = scan_log(lines, "var/log/messages")
    first, second, third = scan.events
    assert (first.boot_memory.reserved_kb, first.boot_memory.freed_later_kb) == (35768, 924)
    assert (second.boot_memory.reserved_kb, second.boot_memory.freed_later_kb) == (99999, 0)
    assert third.boot_memory is None  # its boot's Memory: line is not in the log
    assert [bm.boot for bm in scan.boot_memory] == [0, 1]
