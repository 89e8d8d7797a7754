from __future__ import annotations

import logging
from typing import Any

import pytest
import tenacity

import dynsafe
from dynsafe import errors


class FakeTime:
    """A clock that only moves when the policy sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def failing(times: int, error: Exception, result: str = "ok") -> Any:
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if calls["n"] <= times:
            raise error
        return result

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


def policy(fake: FakeTime, **changes: Any) -> dynsafe.RetryPolicy:
    return dynsafe.RetryPolicy(sleep=fake.sleep, clock=fake.clock, **changes)


def test_retryable_conflicts_are_retried_until_success() -> None:
    fake = FakeTime()
    fn = failing(3, errors.VersionConflictError("lost"))
    assert policy(fake).call(fn) == "ok"
    assert fn.calls["n"] == 4
    assert len(fake.sleeps) == 3


def test_caller_condition_failures_are_never_retried() -> None:
    fake = FakeTime()
    fn = failing(1, errors.ConditionFailedError("no"))
    with pytest.raises(errors.ConditionFailedError) as caught:
        policy(fake).call(fn)
    assert fn.calls["n"] == 1
    assert caught.value.attempts == 1
    assert fake.sleeps == []


def test_foreign_exceptions_propagate_unchanged_without_retry() -> None:
    fake = FakeTime()
    boom = KeyError("mine")
    fn = failing(5, boom)
    with pytest.raises(KeyError) as caught:
        policy(fake).call(fn)
    assert caught.value is boom
    assert fn.calls["n"] == 1


def test_last_typed_error_is_raised_with_attempts_not_retry_error() -> None:
    fake = FakeTime()
    fn = failing(100, errors.VersionConflictError("lost"))
    with pytest.raises(errors.VersionConflictError) as caught:
        policy(fake, attempts=4).call(fn)
    assert not isinstance(caught.value, tenacity.RetryError)
    assert caught.value.attempts == 4
    assert fn.calls["n"] == 4
    assert "attempts=4" in str(caught.value)


def test_deadline_stops_before_a_sleep_would_pass_it() -> None:
    fake = FakeTime()
    fn = failing(1000, errors.ThrottledError("slow"))
    p = policy(fake, attempts=1000, base_delay=1.0, max_delay=1.0, deadline=5.0)
    p = p.replace(backoff=tenacity.wait_fixed(1.0))
    with pytest.raises(errors.ThrottledError):
        p.call(fn)
    assert fake.now <= 5.0
    assert fn.calls["n"] == 6  # at 0, 1, 2, 3, 4 and 5 seconds


def test_backoff_is_capped_full_jitter_exponential() -> None:
    fake = FakeTime()
    fn = failing(9, errors.VersionConflictError("lost"))
    policy(fake, base_delay=0.01, max_delay=0.05, deadline=None).call(fn)
    assert all(0 <= s <= 0.05 for s in fake.sleeps)
    assert fake.sleeps[0] <= 0.01


def test_retry_after_hint_lengthens_the_wait_up_to_max_delay() -> None:
    fake = FakeTime()
    fn = failing(1, errors.IdempotencyInProgressError("busy", retry_after=0.3))
    policy(fake, max_delay=1.0).call(fn)
    assert fake.sleeps == [0.3]


def test_on_retry_hook_and_debug_log_see_each_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeTime()
    seen: list[tuple[int, str, float]] = []
    fn = failing(2, errors.TransactionConflictError("busy"))
    p = policy(fake, on_retry=lambda n, e, d: seen.append((n, type(e).__name__, d)))
    with caplog.at_level(logging.DEBUG, logger="dynsafe.retry"):
        p.call(fn)
    assert [(n, name) for n, name, _ in seen] == [
        (1, "TransactionConflictError"),
        (2, "TransactionConflictError"),
    ]
    assert [d for _, _, d in seen] == fake.sleeps
    assert len([r for r in caplog.records if r.name == "dynsafe.retry"]) == 2


def test_never_makes_one_attempt() -> None:
    fn = failing(1, errors.VersionConflictError("lost"))
    with pytest.raises(errors.VersionConflictError):
        dynsafe.RetryPolicy.never().call(fn)


@pytest.mark.parametrize(
    "changes", [{"attempts": 0}, {"base_delay": -1}, {"deadline": 0}]
)
def test_bad_policies_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(dynsafe.ValidationError):
        dynsafe.RetryPolicy(**changes)


def test_retry_on_conflict_decorates_with_and_without_a_policy() -> None:
    fake = FakeTime()
    state = {"n": 0}

    @dynsafe.retry_on_conflict(policy(fake))
    def once_conflicting(x: int) -> int:
        state["n"] += 1
        if state["n"] == 1:
            raise errors.VersionConflictError("lost")
        return x * 2

    @dynsafe.retry_on_conflict
    def plain(x: int) -> int:
        return x + 1

    assert once_conflicting(21) == 42
    assert plain(1) == 2
    assert once_conflicting.__name__ == "once_conflicting"
