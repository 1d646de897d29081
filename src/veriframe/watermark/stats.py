"""The hypothesis tests behind ``present``.

:func:`correlation_p_value` is the keyed mark's: under "no watermark" the keyed chip signs are
fair coins whatever the content, so the soft decode's normalised correlation with its codeword
obeys Hoeffding's bound; a union bound covers the candidate codewords, and the p-value is
multiplied by the number of hypotheses searched (alignments, orientations, regions, keys),
Bonferroni style. :func:`binomial_tail` is the test for known open-generator marks (bits that
match by luck).
"""

from __future__ import annotations

import math


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
