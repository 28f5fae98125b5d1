"""Greedy and batched beam search.

Beam search keeps all sentences x beams in one (N = B*K) batch; finished
sentences are dropped from the batch so the remaining steps get cheaper. The
output length is capped at ``max_len_a * source_length + max_len_b`` so a
degenerate (e.g. heavily pruned) model cannot run away.
"""
from __future__ import annotations

import torch

from .kernels import Stepper
from .model import Seq2Seq
from .vocab import BOS, EOS


def _max_steps(src_len: torch.Tensor, a: float, b: int) -> torch.Tensor:
    return (src_len.float() * a + b).long().clamp(min=1)


@torch.inference_mode()
def greedy_search(model: Seq2Seq, src: torch.Tensor, src_len: torch.Tensor,
                  max_len_a: float = 2.0, max_len_b: int = 10, stepper: Stepper | None = None) -> list[list[int]]:
    """Argmax decoding. src: (B, S) -> B token lists (without BOS/EOS)."""
    step = stepper or Stepper(model)
    memory, state = model.encode(src, src_len)
    B = src.size(0)
    limit = _max_steps(src_len, max_len_a, max_len_b).to(src.device)
    tokens = torch.full((B,), BOS, dtype=torch.long, device=src.device)
    out = torch.zeros(B, int(limit.max()), dtype=torch.long, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    for t in range(int(limit.max())):
        logits, state = step(tokens, state, memory)
        tokens = logits.argmax(-1)
        tokens = torch.where(done, torch.full_like(tokens, EOS), tokens)
        out[:, t] = tokens
        done |= (tokens == EOS) | (t + 1 >= limit)
        if bool(done.all()):
            break
    result = []
    for row, n in zip(out.tolist(), limit.tolist()):
        row = row[:n]
        result.append(row[:row.index(EOS)] if EOS in row else row)
    return result


def top_candidates(logp: torch.Tensor, scores: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The best ``m`` of each sentence's K*V extensions ``scores[r, k] + logp[r*K + k, v]``.

    Equal to ``(scores.view(-1, 1) + logp).view(n, K * V).topk(m)``, but the best
    ``m`` of a sentence are among each beam's own best ``m`` (the beam score is
    constant along a row), so the scores are added to those only: no (n*K, V)
    sum and a small second top-k.

    Args:
        logp: (n*K, V) log-probabilities; scores: (n, K) beam scores.
    Returns:
        values (n, m) and flat indices ``beam * V + token`` (n, m).
    """
    n, K = scores.shape
    V = logp.size(1)
    row_s, row_i = logp.topk(min(m, V), dim=1)                              # (n*K, m)
    cand = (row_s + scores.reshape(n * K, 1)).view(n, -1)
    top_s, j = cand.topk(m, dim=1)
    per_row = row_s.size(1)
    return top_s, torch.div(j, per_row, rounding_mode="floor") * V + row_i.view(n, -1).gather(1, j)


@torch.inference_mode()
def beam_search(model: Seq2Seq, src: torch.Tensor, src_len: torch.Tensor, beam: int = 5,
                alpha: float = 1.0, max_len_a: float = 2.0, max_len_b: int = 10,
                stepper: Stepper | None = None) -> list[list[int]]:
    """Batched beam search with length normalisation score / length**alpha.

    A sentence is finished once it has ``beam`` complete hypotheses (an EOS
    among the top ``beam`` candidates) or reaches its length cap, where the
    live beams are completed as they stand.

    Args:
        src: (B, S) source ids; src_len: (B,).
    Returns:
        B token lists (without BOS/EOS), the best hypothesis of each sentence.
    """
    step = stepper or Stepper(model)
    dev = src.device
    B, K = src.size(0), beam
    memory, state = model.encode(src, src_len)
    rep = torch.arange(B, device=dev).repeat_interleave(K)
    memory, state = memory.index_select(rep), state.index_select(rep)
    limit = _max_steps(src_len, max_len_a, max_len_b).tolist()
    alive = list(range(B))                   # sentence ids still decoding, in batch order
    scores = torch.zeros(B, K, device=dev)
    scores[:, 1:] = float("-inf")            # all beams start identical: expand only the first
    tokens = torch.full((B * K,), BOS, dtype=torch.long, device=dev)
    history = torch.zeros(B * K, 0, dtype=torch.long, device=dev)
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(B)]
    t = 0
    while alive:
        n = len(alive)
        logits, state = step(tokens, state, memory)
        logp = torch.log_softmax(logits.float(), -1)                        # (n*K, V)
        V = logp.size(1)
        top_s, top_i = top_candidates(logp, scores, 2 * K)                  # (n, 2K)
        is_eos = (top_i % V) == EOS
        last = [t + 1 >= limit[s] for s in alive]
        # Completed hypotheses: EOS within the top K candidates.
        eos_rank = is_eos & (torch.arange(2 * K, device=dev) < K)
        if bool(eos_rank.any()):
            for r, j in eos_rank.nonzero().tolist():
                beam_idx = int(top_i[r, j]) // V
                hyp = history[r * K + beam_idx].tolist()
                finished[alive[r]].append((float(top_s[r, j]) / (len(hyp) + 1) ** alpha, hyp))
        # Live beams: the best K non-EOS candidates.
        masked = top_s.masked_fill(is_eos, float("-inf"))
        keep_s, keep_j = masked.topk(K, dim=1)
        keep_i = top_i.gather(1, keep_j)
        origin = (keep_i // V) + torch.arange(n, device=dev).unsqueeze(1) * K   # (n, K) rows
        new_tok = keep_i % V
        history = torch.cat([history.index_select(0, origin.view(-1)), new_tok.view(-1, 1)], 1)
        state = state.index_select(origin.view(-1))
        scores, tokens = keep_s, new_tok.view(-1)
        t += 1
        still = []
        for r, s in enumerate(alive):
            if last[r]:
                for k in range(K):
                    if keep_s[r, k] > float("-inf") and len(finished[s]) < K:
                        hyp = history[r * K + k].tolist()
                        finished[s].append((float(keep_s[r, k]) / len(hyp) ** alpha, hyp))
            elif len(finished[s]) < K:
                still.append(r)
        if len(still) < n:
            if not still:
                break
            rows = torch.tensor(still, device=dev)
            beam_rows = (rows.unsqueeze(1) * K + torch.arange(K, device=dev)).view(-1)
            alive = [alive[r] for r in still]
            scores, tokens, history = scores.index_select(0, rows), tokens[beam_rows], history[beam_rows]
            state, memory = state.index_select(beam_rows), memory.index_select(beam_rows)
    return [max(f, key=lambda x: x[0])[1] if f else [] for f in finished]
