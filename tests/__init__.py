"""Tests; tests/lab is the real-guest QEMU lab."""
