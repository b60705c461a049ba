"""Every reference solution gets full marks; every untouched stub gets 0 and
is recognised as not implemented yet."""

import tomllib

import pytest

from conftest import ROOT, run_grader

KATAS = list(tomllib.loads((ROOT / "katas" / "course.toml").read_text()))


@pytest.mark.parametrize("kata", KATAS)
def test_reference_solution_gets_full_marks(kata):
    run = run_grader("check", kata, "--solution", "--format", "json")
    data = run.json
    lost = [(c["id"], c["message"]) for c in data["checks"] if c["status"] == "failed"]
    assert not lost, lost
    assert data["score"] == data["max_score"] > 0
    assert run.returncode == 0


@pytest.mark.parametrize("kata", KATAS)
def test_untouched_stub_gets_zero(kata, tmp_path):
    import shutil
    shutil.copytree(ROOT / "katas" / kata, tmp_path / kata)   # a pristine copy, never the working copy
    run = run_grader("check", kata, "--submission", str(tmp_path / kata), "--format", "json")
    data = run.json
    assert data["score"] == 0
    assert data["max_score"] > 0
    assert data["not_implemented"], [c["message"] for c in data["checks"]][:2]
    assert run.returncode == 1
