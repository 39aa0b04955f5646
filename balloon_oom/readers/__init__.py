"""Readers: find the files of a sosreport (dir or tarball), a live guest or a vmcore."""
