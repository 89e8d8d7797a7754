"""When to try a lost write again, and how long to wait first.

Roles, all tenacity objects:

- the *check* retries only errors whose :attr:`~dynsafe.errors.DynsafeError.retryable`
  is true: version conflicts, transaction conflicts, throttling. A condition the
  caller gave that fails is never retried; nor is any exception that is not dynsafe's;
- the *backoff* is exponential with full jitter, capped at ``max_delay``: under
  contention, jitter spreads the writers out so they stop colliding in lockstep;
- the *stop* ends after ``attempts`` attempts, or before a sleep would pass the
  ``deadline``.

After the last attempt the last dynsafe error is raised as it is, not wrapped in
tenacity's ``RetryError``, with :attr:`~dynsafe.errors.DynsafeError.attempts` set.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, overload

import tenacity
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from dynsafe.errors import DynsafeError, ValidationError

__all__ = [
    "DEFAULT_POLICY",
    "AdaptiveBackoff",
    "OnRetry",
    "RetryPolicy",
    "is_retryable",
    "retry_on_conflict",
]

logger = logging.getLogger("dynsafe.retry")

P = ParamSpec("P")
R = TypeVar("R")

OnRetry = Callable[[int, DynsafeError, float], None]
"""A hook called before each retry with the attempt number just failed, its error and
the delay before the next attempt, in seconds."""


def is_retryable(error: BaseException) -> bool:
    """Whether a policy would try again after ``error``."""
    return isinstance(error, DynsafeError) and bool(error.retryable)


class _StopAtDeadline(stop_base):
    """Stop when the coming sleep would end past the deadline."""

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._ends = clock() + deadline

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self._clock() + retry_state.upcoming_sleep > self._ends


class AdaptiveBackoff(wait_base):
    """Full-jitter exponential backoff whose scale grows with the conflict rate.

    Writers of a key that conflicts often spread out further before their first
    retry, so fewer of them collide again; a quiet key retries at once.

    Args:
        base_delay: The scale when nothing conflicts, in seconds.
        max_delay: The longest single wait, in seconds.
        conflict_rate: Returns the key's recent share of conflicting attempts.
        spread: How much a conflict rate of 1 multiplies the scale, less one.
    """

    def __init__(
        self,
        base_delay: float,
        max_delay: float,
        conflict_rate: Callable[[], float],
        spread: float = 8.0,
    ) -> None:
        self._base = base_delay
        self._max = max_delay
        self._rate = conflict_rate
        self._spread = spread

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        """The wait before the next attempt, in seconds."""
        scale = self._base * (1 + self._spread * self._rate())
        exponent = min(retry_state.attempt_number - 1, 30)
        return random.uniform(0, min(self._max, scale * 2**exponent))


class _WaitAtLeastRetryAfter(wait_base):
    """The backoff, but never shorter than an error's own ``retry_after`` hint."""

    def __init__(self, backoff: wait_base, max_delay: float) -> None:
        self._backoff = backoff
        self._max_delay = max_delay

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        delay = float(self._backoff(retry_state))
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        hint = getattr(error, "retry_after", None)
        if isinstance(hint, (int, float)) and hint > delay:
            delay = min(float(hint), self._max_delay)
        return delay


@dataclass(frozen=True)
class RetryPolicy:
    """How dynsafe retries writes that lost a race.

    Policies are immutable; :meth:`replace` returns a changed copy, so one policy can
    be shared by tables, calls and threads.

    Args:
        attempts: Attempts in all, the first included. ``1`` never retries.
        base_delay: The backoff's scale: the first retry waits up to this long, the
            n-th up to ``base_delay * 2 ** (n - 1)``, in seconds.
        max_delay: The longest single wait, in seconds.
        deadline: The longest time a call may spend retrying, in seconds, or ``None``.
        on_retry: Called before each retry with the attempt number, the error and the
            delay, for metrics.
        sleep: How to wait; tests inject one that does not.
        clock: A monotonic clock in seconds, for the deadline.
        backoff: A tenacity wait strategy to use instead of the default exponential
            backoff with full jitter.
        adaptive: Whether primitives that track contention per key may scale the
            default backoff by the key's conflict rate (:class:`AdaptiveBackoff`).

    Raises:
        ValidationError: an argument is out of range.
    """

    attempts: int = 12
    base_delay: float = 0.005
    max_delay: float = 0.5
    deadline: float | None = 10.0
    on_retry: OnRetry | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    backoff: wait_base | None = None
    adaptive: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValidationError(
                f"attempts must be a whole number >= 1, not {self.attempts!r}"
            )
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValidationError("delays must not be negative")
        if self.deadline is not None and self.deadline <= 0:
            raise ValidationError(f"deadline must be positive, not {self.deadline!r}")

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that makes one attempt and raises its error."""
        return cls(attempts=1)

    def replace(self, **changes: Any) -> RetryPolicy:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def for_contention(self, conflict_rate: Callable[[], float]) -> RetryPolicy:
        """This policy with its backoff scaled by a key's conflict rate.

        Unchanged when the policy is not adaptive or has a backoff of its own.
        """
        if not self.adaptive or self.backoff is not None:
            return self
        backoff = AdaptiveBackoff(self.base_delay, self.max_delay, conflict_rate)
        return dataclasses.replace(self, backoff=backoff)

    def _wait(self) -> wait_base:
        backoff = self.backoff or tenacity.wait_random_exponential(
            multiplier=self.base_delay, max=self.max_delay
        )
        return _WaitAtLeastRetryAfter(backoff, self.max_delay)

    def _stop(self) -> stop_base:
        stop: stop_base = tenacity.stop_after_attempt(self.attempts)
        if self.deadline is not None:
            stop = stop | _StopAtDeadline(self.deadline, self.clock)
        return stop

    def _before_sleep(self, retry_state: tenacity.RetryCallState) -> None:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        delay = retry_state.upcoming_sleep
        logger.debug(
            "attempt %d failed with %s; retrying in %.4fs",
            retry_state.attempt_number,
            type(error).__name__,
            delay,
            extra={
                "dynsafe_attempt": retry_state.attempt_number,
                "dynsafe_delay": delay,
            },
        )
        if self.on_retry is not None and isinstance(error, DynsafeError):
            self.on_retry(retry_state.attempt_number, error, delay)

    def retrying(
        self, retry_if: Callable[[BaseException], bool] = is_retryable
    ) -> tenacity.Retrying:
        """Return the tenacity ``Retrying`` for one call under this policy.

        Args:
            retry_if: Which errors are worth another attempt; by default those
                whose ``retryable`` is true.
        """
        return tenacity.Retrying(
            stop=self._stop(),
            wait=self._wait(),
            retry=tenacity.retry_if_exception(retry_if),
            before_sleep=self._before_sleep,
            sleep=self.sleep,
            reraise=True,
        )

    def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``fn`` until it succeeds, fails for good, or the policy runs out.

        It fails for good when it raises an error that is not worth retrying.

        Raises:
            DynsafeError: the last error, with ``attempts`` set to the attempts made.
            Exception: anything ``fn`` raised that is not a retryable dynsafe error,
                unchanged.
        """
        return self.run(functools.partial(fn, *args, **kwargs))

    def run(
        self,
        fn: Callable[[], R],
        *,
        retry_if: Callable[[BaseException], bool] = is_retryable,
    ) -> R:
        """Like :meth:`call`, for a function of no arguments and a chosen check.

        Primitives use it to retry less than the default: a put whose version
        check failed must not be sent again, though the conflict is retryable for
        a read-modify-write.
        """
        retrying = self.retrying(retry_if)
        try:
            return retrying(fn)
        except DynsafeError as error:
            error.attempts = retrying.statistics.get("attempt_number", 1)
            raise


DEFAULT_POLICY = RetryPolicy()
"""The policy of every primitive given none: 12 attempts within 10 seconds."""


@overload
def retry_on_conflict(policy: Callable[P, R]) -> Callable[P, R]: ...


@overload
def retry_on_conflict(
    policy: RetryPolicy | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def retry_on_conflict(policy: Any = None) -> Any:
    """Decorate a function so that retryable dynsafe errors run it again.

    Use it bare (``@retry_on_conflict``) for the default policy, or with one
    (``@retry_on_conflict(RetryPolicy(attempts=5))``). The function must be safe to
    run again: it should read what it needs inside, so that each attempt sees the
    latest state.

    Raises:
        DynsafeError: as :meth:`RetryPolicy.call`.
    """
    if callable(policy) and not isinstance(policy, RetryPolicy):
        return retry_on_conflict(None)(policy)
    chosen = policy if policy is not None else DEFAULT_POLICY

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return chosen.call(fn, *args, **kwargs)

        return wrapper

    return decorate
