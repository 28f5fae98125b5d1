"""Decode: translate with a model and score what it writes.

``kernels`` (one decoding step with dense, CSR or bf16 products), ``search``
(greedy, batched beam), ``workers`` (decoding in forked processes),
``translation`` (raw text in, detokenized text out), ``metrics`` (perplexity,
BLEU, chrF), ``evaluate`` (a checkpoint on a split).
"""
