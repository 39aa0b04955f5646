"""Renderers: table (tabulate), JSON, HTML. They format; they never compute."""
