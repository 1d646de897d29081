"""The detector's training lab (the ``[train]`` extra: scikit-learn): the corpus and its
platform copies (:mod:`.dataset`, :mod:`.augment`), fitting (:mod:`.training`), leave-one-source-
out and leave-one-family-out evaluation with the model card (:mod:`.evaluation`), metrics, and
the user flows ``train`` / ``evaluate`` (:mod:`.workflow`); candidate pixel models beside the
feature model (boosted trees, :mod:`.trees`; a residual-patch network, :mod:`.cnn`, torch) and
their comparison on one protocol (:mod:`.candidates`).

The runtime (:mod:`veriframe.detect`: features, the model file, scoring) never imports it.
"""
