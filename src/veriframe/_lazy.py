"""Package fronts that import their modules on first use of a name.

A package lists which of its submodules defines each public name; :func:`front` gives it the
module ``__getattr__`` that imports the submodule when the name is first asked for, so that
importing the package itself loads none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def front(package: str, modules: Mapping[str, tuple[str, ...]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``modules`` maps each submodule (relative
    name) to the names it defines."""
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # not cached in the package, so a test that patches the defining module is seen by
        # every caller
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__
