"""Data: raw parallel text -> tokenizers and token ids (``prepare``), then batches.

``corpus`` (a split in memory, raw files), ``tokenizers`` (SentencePiece, word
level, per-side shares of a joint model), ``prepare`` (writes a prepared
directory), ``prepared`` (reads it), ``batching`` (token-budget batches, padded
tensors), ``corpora`` (named corpora and their cache), ``download`` (fetch
one verified), ``resolve`` (a ``--data`` value -> a directory).
"""
