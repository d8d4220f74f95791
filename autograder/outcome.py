"""What grading made of one submission: graded, scored 0 for tampering, or not graded, and why.

The scores CSV's status column and the grader's summary are the outcome's
``status`` text; code asks the outcome itself, never that text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    GRADED = "graded"
    TAMPERING = "tampering"  # graded, and every autograded point set to 0
    NOT_GRADED = "not graded"


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    reason: str = ""  # not graded: why; tampering: why nbgrader could not finish, if it could not
    findings: tuple[str, ...] = ()  # tampering: what the integrity checks found

    @classmethod
    def graded(cls) -> "Outcome":
        return cls(Kind.GRADED)

    @classmethod
    def not_graded(cls, reason: str) -> "Outcome":
        return cls(Kind.NOT_GRADED, reason)

    @classmethod
    def tampering(cls, findings: list[str], unfinished: "Outcome | None" = None) -> "Outcome":
        """Scored 0 for ``findings``; ``unfinished``: the outcome nbgrader gave when it could not finish."""
        return cls(Kind.TAMPERING, unfinished.reason if unfinished else "", tuple(findings))

    @property
    def is_graded(self) -> bool:
        """Graded as it stands: nbgrader finished and nothing was found."""
        return self.kind is Kind.GRADED

    @property
    def failed(self) -> bool:
        return self.kind is Kind.NOT_GRADED

    @property
    def status(self) -> str:
        """The text of the scores CSV's status column."""
        if self.kind is Kind.NOT_GRADED:
            return f"not graded: {self.reason}"
        if self.kind is Kind.GRADED:
            return "graded"
        status = f"graded: 0 for tampering ({'; '.join(self.findings)})"
        return f"{status}; nbgrader could not finish ({self.reason})" if self.reason else status
