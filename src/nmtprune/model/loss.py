"""Softmax cross-entropy with label smoothing, written for CPU speed.

``torch.nn.functional.cross_entropy`` materialises log-probabilities, then
zero-fills and scatters a full (N, V) gradient for the NLL before the
log-softmax backward: three extra passes over the largest tensor of the model.
Here the forward keeps only each row's log-sum-exp and the backward rebuilds
softmax - target straight into the gradient, both in row chunks: no full-size
fp32 temporaries (at 3,000 tokens x 8k words each would be ~100 MB, freshly
mapped and page-faulted on every step), and bfloat16 logits (autocast) are
read as they are, converted a chunk at a time. Same values as the torch function.
"""
from __future__ import annotations

import torch

CHUNK = 512          # rows per chunk: a (512, V) fp32 block stays in cache-sized memory


class _SoftmaxXent(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: torch.Tensor, target: torch.Tensor, smoothing: float):
        N, V = target.size(0), logits.size(1)            # rows past N are padding (gradient 0)
        acc = torch.promote_types(logits.dtype, torch.float32)        # fp32 for bf16/fp16 logits
        lse = torch.empty(N, dtype=acc, device=logits.device)
        mean = torch.empty_like(lse) if smoothing else None
        # One reused buffer: a fresh chunk-sized tensor per chunk costs ~2.5x its copy (page faults).
        buf = torch.empty(min(CHUNK, N), V, dtype=acc, device=logits.device)
        for a in range(0, N, CHUNK):
            b = min(a + CHUNK, N)
            x = buf[:b - a].copy_(logits[a:b])
            if smoothing:
                mean[a:b] = x.mean(1)
            m = x.amax(1, keepdim=True)
            lse[a:b] = x.sub_(m).exp_().sum(1).log_().add_(m.squeeze(1))
        nll = lse - logits[:N].gather(1, target.unsqueeze(1)).squeeze(1).to(acc)
        loss = nll if smoothing == 0 else (1 - smoothing) * nll + smoothing * (lse - mean)
        ctx.save_for_backward(logits, lse, target)
        ctx.smoothing = smoothing
        return loss.sum(), nll.detach().sum()

    @staticmethod
    def backward(ctx, grad_loss, _grad_nll):
        logits, lse, target = ctx.saved_tensors
        eps = ctx.smoothing
        g = float(grad_loss)
        N, V = target.size(0), logits.size(1)
        grad = torch.empty_like(logits)
        grad[N:] = 0
        buf = torch.empty(min(CHUNK, N), V, dtype=lse.dtype, device=logits.device)
        # d loss / d logits = g * (softmax - (1 - eps) * onehot - eps / V), one chunk at a time.
        for a in range(0, N, CHUNK):
            b = min(a + CHUNK, N)
            p = buf[:b - a].copy_(logits[a:b])
            p.sub_(lse[a:b, None]).exp_().mul_(g)
            t = target[a:b, None]
            p.scatter_add_(1, t, p.new_full(t.shape, -(1.0 - eps) * g))
            if eps:
                p.sub_(g * eps / V)
            grad[a:b] = p
        return grad, None, None


def softmax_xent(logits: torch.Tensor, target: torch.Tensor, *, smoothing: float = 0.0):
    """Summed (label-smoothed) loss and summed plain NLL.

    Args:
        logits: (N', V) unnormalised scores (fp32, or bf16 under autocast; the
            arithmetic is fp32 either way); rows past N are padding: no loss, zero gradient.
        target: (N,) class ids (no padding), N <= N'.
        smoothing: label smoothing epsilon (mass spread uniformly over all V classes).
    Returns:
        (loss_sum, nll_sum) in fp32: the training loss (with grad) and the NLL (no grad).
    """
    return _SoftmaxXent.apply(logits, target, smoothing)
