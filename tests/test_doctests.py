"""Run the docstring examples of every analyzer module (they are real samples)."""

import doctest
import importlib
import pkgutil

import pytest

import balloon_oom

MODULES = sorted(m.name for m in pkgutil.walk_packages(balloon_oom.__path__, "balloon_oom.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
