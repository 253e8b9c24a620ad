"""Prints how many fuzz cases ran (counted by tests.fuzz.helpers.case) at the end of the session;
shares the data tests' clean MNIST environment fixture."""

from __future__ import annotations

from typing import Any

from tests.fuzz.helpers import CASES
from tests.kinds.images.conftest import clean_env  # noqa: F401 (a fixture, used by test_fuzz_mnist)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if CASES:
        terminalreporter.write_line(f"fuzz: {sum(CASES.values())} cases ran in {len(CASES)} tests")
