"""Tests for balloon_oom.parsers.logline: one kernel message in every log dress.

The message texts are real (the 6.1 guest of /work/shared/real-captures/kvm-6.1);
the prefixes are the formats each tool prints (dmesg, dmesg -T/-x, rsyslog,
journalctl -o short/short-precise/short-monotonic/short-iso).
"""

from balloon_oom.parsers.logline import MAX_LINE_BYTES, LogLine, decode_line, split_prefix

MSG = "hog invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0"


def test_dmesg():
    assert split_prefix("[    8.352026] " + MSG) == LogLine(MSG, 8.352026, None, True)


def test_dmesg_continuation_keeps_its_space():
    ll = split_prefix("[    8.353952]  active_file:0 inactive_file:0 isolated_file:0")
    assert ll.text == " active_file:0 inactive_file:0 isolated_file:0"
    assert ll.monotonic == 8.353952


def test_vmcore_dmesg_level_prefix():
    assert split_prefix("<4>[    8.352026] " + MSG) == LogLine(MSG, 8.352026, None, True)


def test_dmesg_decoded_facility_level():
    assert split_prefix("kern  :warn  : [    8.352026] " + MSG) == LogLine(MSG, 8.352026, None, True)
    # A user-space write to /dev/kmsg is not a kernel message.
    assert split_prefix("user  :notice: [   12.000000] hello").kernel is False


def test_dmesg_T_english_and_other_locale():
    assert split_prefix("[Thu Nov 26 05:27:25 2026] " + MSG) == LogLine(
        MSG, None, "Thu Nov 26 05:27:25 2026", True)
    # Real line from a Japanese-locale `dmesg -T` (public GitHub file).
    ll = split_prefix("[月  1月 26 01:49:41 2026]  oom_kill_process+0x29c/0x320")
    assert ll.wallclock == "月  1月 26 01:49:41 2026"
    assert ll.text == " oom_kill_process+0x29c/0x320"


def test_syslog_with_and_without_printk_time():
    assert split_prefix("Nov 26 05:27:25 vm kernel: [    8.352026] " + MSG) == LogLine(
        MSG, 8.352026, "Nov 26 05:27:25", True)
    assert split_prefix("Nov  6 05:27:25 vm kernel: " + MSG) == LogLine(MSG, None, "Nov  6 05:27:25", True)


def test_rfc3339_and_short_iso():
    assert split_prefix("2026-11-26T05:27:25.123456+00:00 vm kernel: " + MSG) == LogLine(
        MSG, None, "2026-11-26T05:27:25.123456+00:00", True)
    assert split_prefix("2026-11-26T05:27:25+0000 vm kernel: " + MSG).wallclock == "2026-11-26T05:27:25+0000"


def test_journal_short_precise_and_monotonic():
    assert split_prefix("Nov 26 05:27:25.123456 vm kernel: " + MSG) == LogLine(
        MSG, None, "Nov 26 05:27:25.123456", True)
    assert split_prefix("[    8.352026] vm kernel: " + MSG) == LogLine(MSG, 8.352026, None, True)


def test_journal_without_host():
    # As pasted in public reports with the host name cut out.
    ll = split_prefix("Dec 14 17:13:12 kernel: swap: usage 0kB, limit 0kB, failcnt 0")
    assert (ll.text, ll.kernel) == ("swap: usage 0kB, limit 0kB, failcnt 0", True)


def test_other_programs_are_not_kernel():
    ll = split_prefix("Nov 26 05:27:25 vm systemd[1]: tidb-4000.service: main process exited, code=killed, status=9/KILL")
    assert ll.kernel is False
    assert ll.text.startswith("tidb-4000.service")


def test_no_prefix_is_a_kernel_line():
    assert split_prefix("Out of memory: Killed process 112 (hog)") == LogLine(
        "Out of memory: Killed process 112 (hog)", None, None, True)


def test_decode_crlf_nul_and_bad_utf8():
    assert decode_line(b"[ 1.5] Hardware name: Q\xe9MU\x00 PC\r\n") == "[ 1.5] Hardware name: Q\ufffdMU PC"
    assert decode_line("[ 1.5] x\r") == "[ 1.5] x"


def test_decode_caps_a_huge_line():
    line = b"[ 1.5] " + b"A" * (50 * 1024 * 1024) + b"\n"
    assert len(decode_line(line)) == MAX_LINE_BYTES


def test_nul_run_longer_than_the_cut_does_not_hide_the_message():
    from balloon_oom.parsers.logline import MAX_LINE_BYTES, decode_line
    line = b"\x00" * (MAX_LINE_BYTES + 100) + b"[    8.352026] hog invoked oom-killer: order=0"
    assert decode_line(line) == "[    8.352026] hog invoked oom-killer: order=0"


def test_paste_indentation_and_quoting_before_a_prefix():
    from balloon_oom.parsers.logline import strip_paste

    for raw in ("  [  238.338585] systemd invoked oom-killer: x", "     [  238.338585] systemd invoked oom-killer: x",
                "> [  238.338585] systemd invoked oom-killer: x", ">> [  238.338585] systemd invoked oom-killer: x",
                "> > [  238.338585] systemd invoked oom-killer: x"):
        ll = split_prefix(raw)
        assert (ll.text, ll.monotonic, ll.prefixed) == ("systemd invoked oom-killer: x", 238.338585, True)
    ll = split_prefix("  Mar  2 08:32:45 ip-172-31-34-102 kernel: Mem-Info:")
    assert (ll.text, ll.kernel) == ("Mem-Info:", True)
    # an unprefixed continuation keeps its own leading space, quoted or not
    assert strip_paste(">  active_file:12 inactive_file:7") == " active_file:12 inactive_file:7"
    assert split_prefix(" active_file:12").prefixed is False
    assert split_prefix("<4>Pid: 5030, comm: httpd Not tainted 2.6.32-504.el6.x86_64 #1").prefixed is True
