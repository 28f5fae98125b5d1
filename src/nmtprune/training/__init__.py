"""Training: a model learns from a prepared directory; a pruned one relearns with its mask fixed.

``config`` (TrainConfig), ``presets`` (tiny, small, paper; retrain defaults),
``loop`` (the training loop), ``state`` (``state.pt`` for resuming),
``distributed`` (DDP), ``rundir`` (a run directory, resume checks), ``logs``
(``train.log``), ``run`` (``train`` and ``retrain``).
"""
