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


def correlation_p_value(*, z: float, data_bits: int, hypotheses: float = 1.0) -> float:
    """p-value of a soft decode whose normalised correlation with its codeword is ``z``.

    Under "no watermark" the keyed chip signs are independent fair coins, whatever the content
    is, so for one fixed codeword ``T = sum_i s_i x_i`` is a Rademacher sum and Hoeffding's
    inequality gives ``P(T / ||x|| >= z) <= exp(-z^2 / 2)``. The decoder picks the best of the
    ``2^data_bits`` codewords (union bound) and the caller tried ``hypotheses`` alignments and
    keys (Bonferroni). No assumption about the content's distribution is needed.
    """
    if z <= 0:
        return 1.0
    ln_p = data_bits * math.log(2.0) - 0.5 * z * z + math.log(max(1.0, hypotheses))
    return min(1.0, math.exp(ln_p)) if ln_p < 0 else 1.0
