"""Every error custseg raises on purpose.

The tree::

    CustsegError                 base; ``str(err)`` is one line: problem, where, fix
     +-- InputError              a data file cannot be read or has the wrong shape
     +-- SpecError               the data dictionary (spec.toml) is invalid
     +-- ValidationError         the data breaks the spec; carries every problem found
     +-- ParameterError          an option or estimator parameter is out of range
     +-- ModelError              model.json is missing, corrupted, tampered or too new
     +-- OutputError             the output location cannot be written

The CLI turns any of them into its message on stderr and exit code 2; the API into
a 4xx response with one JSON shape. Anything else escaping is a bug. Errors about
bad input (input, spec, parameter, validation) are also ``ValueError``s, as
scikit-learn's conventions expect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CustsegError",
    "InputError",
    "SpecError",
    "ValidationError",
    "ParameterError",
    "ModelError",
    "OutputError",
    "Problem",
    "Findings",
]


class CustsegError(Exception):
    """Base class: an error a user can fix.

    Parameters
    ----------
    problem : str
        What is wrong, e.g. ``"column 'CLV' has 3 non-numeric values"``.
    where : str, optional
        Where it is (file, column, row, key), if not already in ``problem``.
    fix : str, optional
        What to do about it.
    """

    code = "error"

    def __init__(self, problem: str, *, where: str | None = None, fix: str | None = None):
        self.problem = problem
        self.where = where
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = self.problem
        if self.where:
            text += f" ({self.where})"
        if self.fix:
            text += f"; fix: {self.fix}"
        return " ".join(text.split())  # always one line

    @property
    def lines(self) -> list[str]:
        """The message as the lines a user sees (one per problem)."""
        return [self.message]

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


class InputError(CustsegError, ValueError):
    code = "input"


class SpecError(CustsegError, ValueError):
    code = "spec"


class ParameterError(CustsegError, ValueError):
    code = "parameter"


class ModelError(CustsegError):
    code = "model"


class OutputError(CustsegError):
    code = "output"


@dataclass
class Problem:
    """One finding of validation.

    ``severity`` is ``"error"`` (stops the run) or ``"warning"`` (recorded, the
    run goes on). ``rows`` are example row numbers counted from 1.
    """

    code: str
    severity: str
    message: str
    column: str | None = None
    rows: list[int] = field(default_factory=list)
    count: int = 0

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "column": self.column,
            "rows": list(self.rows),
            "count": int(self.count),
        }


class Findings:
    """What a check found, as ``problems``; ``errors`` and ``warnings`` split them by severity.

    The base of the results of the checks (:class:`custseg.validate.Validated`,
    :class:`custseg.rfm.checks.TxValidation`).
    """

    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        """The problems of severity ``"error"``."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems of severity ``"warning"``."""
        return [p for p in self.problems if p.severity == "warning"]


class ValidationError(CustsegError, ValueError):
    """The data breaks the spec. ``problems`` lists every error found at once."""

    code = "validation"

    def __init__(self, problems: list[Problem]):
        self.problems = [p for p in problems if p.severity == "error"]
        n = len(self.problems)
        first = self.problems[0].message if self.problems else "invalid data"
        summary = first if n == 1 else f"{n} problems in the data; first: {first}"
        super().__init__(summary)

    @property
    def lines(self) -> list[str]:
        return [" ".join(p.message.split()) for p in self.problems]

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "problems": [p.to_dict() for p in self.problems],
        }
