"""Pure parsers: text in, typed object out; :class:`~balloon_oom.errors.ParseError` on bad input."""
