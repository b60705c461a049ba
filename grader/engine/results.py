"""The scorecard: what each check found, and the kata's total."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

PASSED, FAILED, NOT_RUN = "passed", "failed", "not_run"


@dataclass
class CheckResult:
    id: str
    name: str
    status: str
    max_score: int
    message: str = ""
    hint: str = ""
    details: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    duration: float = 0.0
    hidden: bool = False

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    @property
    def score(self) -> int:
        return self.max_score if self.passed else 0

    def to_json(self) -> dict:
        data = asdict(self)
        data.update(passed=self.passed, score=self.score)
        if self.status == NOT_RUN:
            data["max_score"] = 0
        return data


@dataclass
class KataResult:
    kata: str
    title: str
    checks: list[CheckResult] = field(default_factory=list)
    stretch: float = 1.0
    seed: int = 0
    notes: list[str] = field(default_factory=list)
    error: str | None = None        # the kata could not be graded at all (exit 2)
    not_implemented: bool = False
    evidence_dir: str | None = None
    program: str = ""

    @property
    def score(self) -> int:
        return sum(c.score for c in self.checks)

    @property
    def max_score(self) -> int:
        # A check that could not run here is reported but does not count.
        return sum(c.max_score for c in self.checks if c.status != NOT_RUN)

    @property
    def all_passed(self) -> bool:
        return self.error is None and all(c.status != FAILED for c in self.checks)

    def to_json(self) -> dict:
        return {
            "kata": self.kata,
            "title": self.title,
            "score": self.score,
            "max_score": self.max_score,
            "passed": self.all_passed,
            "not_implemented": self.not_implemented,
            "stretch": self.stretch,
            "seed": self.seed,
            "program": self.program,
            "notes": self.notes,
            "error": self.error,
            "evidence_dir": self.evidence_dir,
            "checks": [c.to_json() for c in self.checks],
        }
