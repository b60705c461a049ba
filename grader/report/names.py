"""The sentence that names each of a kata's checks, without running any:
for reports about checks that never ran (a grading stopped at its time
limit, a submission without its program file)."""

from __future__ import annotations

import importlib
from functools import lru_cache

from grader.engine.check import check_id, spec_of


@lru_cache(maxsize=None)
def _module_names(module: str) -> dict[str, str]:
    try:
        mod = importlib.import_module(f"grader.checks.{module}")
    except Exception:  # a broken check module is reported by the grading itself
        return {}
    names = {}
    for attr, fn in vars(mod).items():
        spec = spec_of(fn) if callable(fn) else None
        if spec is not None:
            names[check_id(attr)] = spec.name
    return names


def check_names(kata) -> dict[str, str]:
    """check id -> name for every check of ``kata`` in course.toml."""
    found = {}
    for module in kata.modules:
        found.update(_module_names(module))
    return {cid: found.get(cid, cid.replace("_", " ")) for cid in kata.checks}
