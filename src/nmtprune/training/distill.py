"""Word-level knowledge distillation (Hinton et al. 2015; Kim & Rush 2016 for NMT).

While a pruned student retrains, a dense teacher's next-word distributions
are a richer target than the one-hot reference: they carry what the dense
model knew about the words the pruned one has to relearn. The loss mixes
the data loss -- the run's own training loss, cross-entropy with its label
smoothing (``train.label_smoothing``) -- with the KL divergence from the
teacher at temperature T (scaled by T^2 so its gradient keeps its size as T
changes).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data.tokenizers import PAD
from ..errors import NmtpruneError
from ..model.loss import softmax_xent
from ..model.seq2seq import Seq2Seq


def target_logits(model: Seq2Seq, batch) -> torch.Tensor:
    """Teacher-forced logits at the non-pad target positions: (N, V), N = batch.n_tokens."""
    memory, state = model.encode(batch.src, batch.src_len)
    h, _ = model.decoder.states(batch.tgt_in, state, memory)
    return model.decoder.out(h[batch.tgt_out != PAD])


def check_teacher(student: Seq2Seq, teacher: Seq2Seq, same_tokenizers: bool, where: str) -> None:
    """A teacher must predict over the student's target vocabulary and read its source ids."""
    s, t = student.cfg, teacher.cfg
    if not same_tokenizers or (s.src_vocab, s.tgt_vocab) != (t.src_vocab, t.tgt_vocab):
        raise NmtpruneError(f"--teacher {where}: its tokenizers differ from the student's; a teacher "
                            "must share the student's tokenizers (train it on the same prepared data)")


class DistillLoss(nn.Module):
    """``forward(batch, label_smoothing) -> (loss_sum, nll_sum)`` with the teacher mixed in."""

    def __init__(self, model: Seq2Seq, teacher: Seq2Seq, weight: float, temperature: float):
        super().__init__()
        self.model = model
        self.teacher = [teacher]          # a list: not a submodule (no gradients, not in DDP)
        self.weight, self.temperature = weight, temperature

    def forward(self, batch, label_smoothing: float = 0.0):
        target = batch.tgt_out[batch.tgt_out != PAD]
        logits = target_logits(self.model, batch)
        with torch.no_grad():
            teacher = self.teacher[0]
            teacher.eval()
            t_logits = target_logits(teacher, batch).float()
        data, nll = softmax_xent(logits, target, smoothing=label_smoothing)
        T = self.temperature
        log_p = F.log_softmax(logits.float() / T, dim=-1)
        q = F.softmax(t_logits / T, dim=-1)
        # KL(q || p) summed over positions; the entropy of q is a constant and dropped from the
        # gradient's point of view, but kept so the reported loss is a true divergence.
        kd = (q * (torch.log(q.clamp_min(1e-12)) - log_p)).sum() * (T * T)
        return (1.0 - self.weight) * data + self.weight * kd, nll
