"""JSON as KATAS.md defines it: one object per kata, or with --all
{"katas": [...], "score": ..., "max_score": ...}."""

from __future__ import annotations

import json

from grader.engine.results import KataResult


def kata_json(result: KataResult) -> dict:
    return result.to_json()


def course_json(results: list[KataResult] | list[dict]) -> dict:
    katas = [r if isinstance(r, dict) else r.to_json() for r in results]
    return {
        "katas": katas,
        "score": sum(k.get("score", 0) for k in katas),
        "max_score": sum(k.get("max_score", 0) for k in katas),
    }


def dumps(data: dict) -> str:
    return json.dumps(data, indent=2)
