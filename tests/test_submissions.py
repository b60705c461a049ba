"""The broken submissions: each realistic learner bug fails exactly the checks
its expected.toml names (primary first) and passes all the others, except
those it lists under may_fail, where a scheduling race decides (with the race
named in a comment).

A check that no submission here fails is a check that cannot fail: the last
test lists those."""

import tomllib

import pytest

from conftest import ROOT, SUBMISSIONS, run_grader

COURSE = tomllib.loads((ROOT / "katas" / "course.toml").read_text())
CASES = sorted(p.parent for p in SUBMISSIONS.glob("*/*/expected.toml") if p.parent.parent.name in COURSE)


def _expected(case):
    return tomllib.loads((case / "expected.toml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_broken_submission_fails_exactly_its_checks(case):
    kata = case.parent.name
    expected = _expected(case)
    assert expected["fails"], f"{case}: expected.toml names no check"
    run = run_grader("check", kata, "--submission", str(case), "--format", "json", "--seed", "1")
    statuses = run.statuses()
    unknown = [c for c in expected["fails"] if c not in statuses]
    assert not unknown, f"unknown check ids in expected.toml: {unknown}"
    failed = run.failed()
    messages = {c["id"]: c["message"] for c in run.json["checks"]}
    # may_fail: checks a scheduling race decides for this bug (expected.toml says which race).
    may = set(expected.get("may_fail", ()))
    assert set(expected["fails"]) <= set(failed) and set(failed) - may <= set(expected["fails"]), (
        f"{expected['bug']}\n expected to fail: {expected['fails']}\n failed: "
        + "\n  ".join(f"{f}: {messages[f]}" for f in failed))
    # The primary check's message is a real sentence, not a traceback.
    assert messages[expected["fails"][0]] and "Traceback" not in messages[expected["fails"][0]]
    assert run.returncode == 1


def test_every_check_is_failed_by_some_submission():
    caught = {kata: set() for kata in COURSE}
    for case in CASES:
        caught[case.parent.name].update(_expected(case)["fails"])
    never = {kata: sorted(set(COURSE[kata]["checks"]) - caught[kata]) for kata in COURSE}
    never = {k: v for k, v in never.items() if v}
    assert not never, f"checks no broken submission fails (a check that cannot fail is a defect): {never}"
