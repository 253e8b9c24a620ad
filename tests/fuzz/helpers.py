"""Fuzzing settings shared by tests/fuzz: a time limit per case, a case counter, and the settings.

Each test body runs under `case()`: it counts the case and arms a SIGALRM time limit, because a
hypothesis deadline only judges an example after it returns and so cannot stop a real hang.
The total is printed at the end of the session ("fuzz: N cases ran in M tests").
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, settings

CASES: Counter[str] = Counter()
CASE_SECONDS = 20  # a hang fails after this; a normal case takes milliseconds

# Parent settings of every fuzz test (each sets its own max_examples). CI replays the same examples every run,
# so that a failure there is reproducible; locally each run explores anew. Not a loaded profile: other
# hypothesis tests keep their own settings.
# No hypothesis deadline: it is a timing assertion that fails on a loaded machine (a deeply nested YAML example
# took 5.2 s with another job running); a real hang is what CASE_SECONDS catches.
FUZZ = settings(deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
                derandomize=os.environ.get("CI") == "true")


SCALE = float(os.environ.get("VAEKIT_FUZZ_SCALE", "1"))  # e.g. 20 for a longer hunt than the test suite's


def fuzz(max_examples: int) -> settings:
    """Fuzz settings with max_examples (times $VAEKIT_FUZZ_SCALE) examples."""
    return settings(FUZZ, max_examples=max(1, round(max_examples * SCALE)))


class CaseTimeout(Exception):
    """A fuzz case ran past CASE_SECONDS (a hang)."""


@contextmanager
def case() -> Iterator[None]:
    """Count one fuzz case and fail it with CaseTimeout when it runs past CASE_SECONDS."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
    CASES[test] += 1

    def on_alarm(signum: int, frame: object) -> None:
        raise CaseTimeout(f"fuzz case ran longer than {CASE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(CASE_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
