"""Problems found in input, and the exit codes of the command-line contract."""

from __future__ import annotations

from dataclasses import dataclass, field

# Exit codes (docs/architecture.md, the command-line contract): the one definition. The CLI's
# help, the README's command table and the gate workflow's status are checked against it
# (tests/test_single_facts.py).
EXIT_OK = 0
EXIT_VIOLATIONS = 1  # findings: violations, missing approvals, drift
EXIT_INVALID = 2
EXIT_ENGINE = 3
EXIT_BUNDLE = 4  # the policy bundle failed signature verification

EXIT_MEANINGS = {
    EXIT_OK: "pass",
    EXIT_VIOLATIONS: "violations",
    EXIT_INVALID: "invalid input",
    EXIT_ENGINE: "policy engine unavailable",
    EXIT_BUNDLE: "policy bundle refused",
}


def exits(*codes: int) -> str:
    """'exit 0 pass, 1 violations, ...' for a command's help, from the one definition."""
    return "exit " + ", ".join(f"{code} {EXIT_MEANINGS[code]}" for code in codes)


# Messages quote input (a value, a key); a 5 MiB value must not make a 5 MiB line. Every
# message is cut here, the one place problems are made, keeping its position and rule.
MAX_MESSAGE = 480


def bounded(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` on one line of at most `limit` characters, saying how much was left out."""
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    if len(text) <= limit:
        return text
    tail = f"... [{len(text)} characters, cut]"
    return text[: limit - len(tail)] + tail


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, pointing at the file and line it is about."""

    file: str
    line: int
    col: int
    message: str
    rule: str = field(default="INV-SCHEMA", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", bounded(self.message))
        object.__setattr__(self, "file", bounded(self.file, 1024))
        object.__setattr__(self, "rule", bounded(self.rule, 64))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message} [{self.rule}]"

    def as_dict(self) -> dict[str, str | int]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "rule": self.rule,
            "message": self.message,
        }


class InvalidInput(Exception):
    """Raised with every problem found; nothing downstream runs on invalid input."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
