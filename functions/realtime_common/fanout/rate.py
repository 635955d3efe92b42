"""A token bucket for the post rate (the generic cell rate algorithm: O(1), no timer task).

API Gateway's account-level throttle is shared by every REST, HTTP and WebSocket API and every
``@connections`` callback in the Region (10,000 requests/s by default, with a token-bucket burst;
https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html). A fan-out that exceeds
it gets 429s for the whole account, so posts are paced rather than merely bounded in number.
"""

from __future__ import annotations

import time
from collections.abc import Callable

_NANOSECOND = 1e-9


class RateLimiter:
    """``take()`` says whether a post may start now, or how long until one may.

    At most ``burst`` posts may start at once; over any longer span the rate is ``rate`` per
    second. A caller told to wait takes nothing: it asks again when the time has come (the
    fan-out parks its ready posts and sets one timer, instead of one timer per post).
    """

    def __init__(
        self, rate: float, burst: int = 1, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._next = 0.0  # theoretical arrival time of the next post

    def take(self) -> float:
        """0.0 when a post may start now (it is counted); else the seconds until one may."""
        now = self._clock()
        early = self._next - self._tolerance - now
        if early > _NANOSECOND:  # not rounding error from adding up intervals
            return early
        self._next = max(self._next, now) + self._interval
        return 0.0
