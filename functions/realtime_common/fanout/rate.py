"""A token bucket for the post rate (the generic cell rate algorithm: O(1), no timer task).

API Gateway's account-level throttle is shared by every REST, HTTP and WebSocket API and every
``@connections`` callback in the Region (10,000 requests/s by default, with a token-bucket burst;
https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html). A fan-out that exceeds
it gets 429s for the whole account, so posts are paced rather than merely bounded in number.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """``reserve()`` returns how long to wait before the next post may start.

    At most ``burst`` posts may start at once; over any longer span the rate is ``rate`` per
    second. Every caller that reserves gets its own slot, so waiting callers never stampede.
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

    def reserve(self) -> float:
        now = self._clock()
        start = max(self._next, now)
        self._next = start + self._interval
        return max(0.0, start - self._tolerance - now)
