"""The hypothesis test behind ``present``.

Under "no watermark" the scrambled soft bits are fair coins, so the received 248-bit word is
uniform. The chance that a uniform word lies within ``e`` bit errors of *some* of the 2^64
codewords is at most ``2^64 * V(248, e) / 2^248`` (union bound; ``V`` is the volume of a Hamming
ball). That is the p-value of one decode; it is multiplied by the number of hypotheses searched
(every period, offset and key), Bonferroni style.
"""

from __future__ import annotations

import math
from functools import lru_cache


@lru_cache(maxsize=64)
def _log2_ball(n: int, radius: int) -> float:
    return math.log2(sum(math.comb(n, i) for i in range(radius + 1)))


def decode_p_value(*, n: int, k: int, errors: int, hypotheses: float = 1.0) -> float:
    """p-value of a BCH decode with ``errors`` corrected bits, corrected for ``hypotheses``."""
    log2_p = k + _log2_ball(n, errors) - n + math.log2(max(1.0, hypotheses))
    return min(1.0, 2.0**log2_p)


def binomial_tail(*, n: int, k: int) -> float:
    """P(Binomial(n, 1/2) >= k): chance of ``k`` or more matching bits out of ``n`` by luck."""
    if k <= 0:
        return 1.0
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2.0**n
