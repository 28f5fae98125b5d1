"""Greedy and batched beam search.

Beam search keeps all sentences x beams in one (N = B*K) batch; finished
sentences are dropped from the batch so the remaining steps get cheaper. The
output length is capped at ``max_len_a * source_length + max_len_b`` so a
degenerate (e.g. heavily pruned) model cannot run away.
"""
from __future__ import annotations

import torch

from ..data.tokenizers import BOS, EOS
from ..model.decoder import Memory, State
from ..model.seq2seq import Seq2Seq
from .kernels import Stepper


def _words(step, columns: torch.Tensor) -> torch.Tensor:
    """Target ids of logit columns: the step's shortlist ids where it scores one (``vocab``)."""
    vocab = getattr(step, "vocab", None)
    return columns if vocab is None else vocab[columns]


def _column(step, word: int) -> int:
    """The logit column of target id ``word`` (a shortlist always holds EOS)."""
    vocab = getattr(step, "vocab", None)
    return word if vocab is None else int(torch.searchsorted(vocab, word))


def _max_steps(src_len: torch.Tensor, a: float, b: int) -> torch.Tensor:
    return (src_len.float() * a + b).long().clamp(min=1)


@torch.inference_mode()
def greedy_search(model: Seq2Seq, src: torch.Tensor, src_len: torch.Tensor, *,
                  max_len_a: float = 2.0, max_len_b: int = 10, stepper: Stepper | None = None,
                  encoded: tuple[Memory, State] | None = None) -> list[list[int]]:
    """Argmax decoding. src: (B, S) -> B token lists (without BOS/EOS).

    ``encoded``: the batch's encoder output if already computed (see :func:`translate_ids`).
    """
    step = stepper or Stepper(model)
    memory, state = encoded or step.encode(src, src_len)
    B = src.size(0)
    limit = _max_steps(src_len, max_len_a, max_len_b).to(src.device)
    tokens = torch.full((B,), BOS, dtype=torch.long, device=src.device)
    out = torch.zeros(B, int(limit.max()), dtype=torch.long, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    for t in range(int(limit.max())):
        logits, state = step(tokens, state, memory)
        tokens = _words(step, logits.argmax(-1))
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


def top_candidates(logits: torch.Tensor, scores: torch.Tensor, m: int, *,
                   block: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """The best ``m`` of each sentence's K*V extensions ``scores[s, k] + log_softmax(logits)[s*K + k, v]``.

    Equal to ``(scores.view(-1, 1) + logits.log_softmax(1)).view(n, K * V).topk(m)``
    without materialising the log-softmax or a top-k over every row: the columns
    are cut into blocks of ``block``; the best ``m`` candidates of a sentence lie
    in its ``m`` blocks with the largest maxima (any other block's maximum is
    beaten by ``m`` candidates from those), so a block-max reduction (which also
    gives each row's maximum for the log-sum-exp), a top-k over blocks and one
    over ``m * block`` gathered values find them exactly.

    Args:
        logits: (n*K, V); scores: (n, K) beam scores (-inf for beams not in use).
    Returns:
        values (n, m) and flat indices ``beam * V + token`` (n, m).
    """
    n, K = scores.shape
    logits = logits.contiguous()
    R, V = logits.shape
    if V < 4 * block or m * block >= K * V:          # small vocabularies: the plain top-k
        return (scores.reshape(R, 1) + logits.log_softmax(1)).view(n, K * V).topk(m, dim=1)
    nb = V // block
    maxima = logits[:, :nb * block].view(R, nb, block).amax(2)                   # (R, nb)
    if nb * block < V:                                                          # the short last block
        maxima = torch.cat([maxima, logits[:, nb * block:].amax(1, keepdim=True)], 1)
        nb += 1
    top = maxima.amax(1, keepdim=True)                                          # (R, 1) row maxima
    lse = torch.sub(logits, top).exp_().sum(1, keepdim=True).log_().add_(top)
    offset = scores.reshape(R, 1) - lse                                         # score - log-sum-exp
    _, blk = (maxima + offset).view(n, K * nb).topk(m, dim=1)                   # (n, m) in-sentence blocks
    row = torch.div(blk, nb, rounding_mode="floor") + torch.arange(0, R, K, device=logits.device).unsqueeze(1)
    col = (blk % nb).mul_(block).unsqueeze(2) + torch.arange(block, device=logits.device)   # (n, m, block)
    flat = row.unsqueeze(2) * V + col.clamp(max=V - 1)
    cand = logits.view(-1)[flat] + offset.view(-1)[row].unsqueeze(2)
    if nb * block != V:
        cand.masked_fill_(col >= V, float("-inf"))                               # past the short block's end
    top_s, j = cand.view(n, -1).topk(m, dim=1)
    hit = flat.view(n, -1).gather(1, j) - torch.arange(0, R * V, K * V, device=logits.device).unsqueeze(1)
    return top_s, hit


def add_finished(done: list[tuple[float, list[int]]], score: float, hyp: list[int], k: int) -> None:
    """Add a finished hypothesis, keeping a sentence's ``k`` best (never more).

    Args:
        done: the sentence's finished ``(score, tokens)`` pairs, updated in place.
        score: the hypothesis's length-normalised score.
        hyp: its tokens (without BOS/EOS).
        k: how many to keep (the beam size).
    """
    done.append((score, hyp))
    if len(done) > k:
        done.sort(key=lambda x: -x[0])
        del done[k:]


@torch.inference_mode()
def beam_search(model: Seq2Seq, src: torch.Tensor, src_len: torch.Tensor, *, beam: int = 5,
                alpha: float = 1.0, max_len_a: float = 2.0, max_len_b: int = 10,
                stepper: Stepper | None = None, encoded: tuple[Memory, State] | None = None) -> list[list[int]]:
    """Batched beam search with length normalisation score / length**alpha.

    A sentence is finished once it has ``beam`` complete hypotheses (an EOS
    among the top ``beam`` candidates) or reaches its length cap, where the
    live beams are completed by EOS: scored like any finished hypothesis (plus
    the EOS log-probability, normalised by length + 1), so a capped hypothesis
    is not favoured over one that chose to stop. A sentence keeps at most
    ``beam`` finished hypotheses (the best).

    Args:
        src: (B, S) source ids; src_len: (B,).
        encoded: the batch's encoder output if already computed.
    Returns:
        B token lists (without BOS/EOS), the best hypothesis of each sentence.
    """
    step = stepper or Stepper(model)
    dev = src.device
    B, K = src.size(0), beam
    memory, state = encoded or step.encode(src, src_len)
    rep = torch.arange(B, device=dev).repeat_interleave(K)
    memory, state = memory.index_select(rep), state.index_select(rep)
    limit = _max_steps(src_len, max_len_a, max_len_b).tolist()
    alive = list(range(B))                   # sentence ids still decoding, in batch order
    scores = torch.zeros(B, K, device=dev)
    scores[:, 1:] = float("-inf")            # all beams start identical: expand only the first
    tokens = torch.full((B * K,), BOS, dtype=torch.long, device=dev)
    history = torch.zeros(B * K, 0, dtype=torch.long, device=dev)
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(B)]
    first_k = torch.arange(2 * K, device=dev) < K
    t = 0
    while alive:
        n = len(alive)
        logits, state = step(tokens, state, memory)                        # (n*K, V)
        V = logits.size(1)
        top_s, top_i = top_candidates(logits, scores, 2 * K)               # (n, 2K)
        top_tok = _words(step, top_i % V)                                   # word ids (shortlist: mapped)
        is_eos = top_tok == EOS
        # Completed hypotheses: EOS within the top K candidates.
        eos_rank = is_eos & first_k
        if bool(eos_rank.any()):
            for r, j in eos_rank.nonzero().tolist():
                beam_idx = int(top_i[r, j]) // V
                hyp = history[r * K + beam_idx].tolist()
                add_finished(finished[alive[r]], float(top_s[r, j]) / (len(hyp) + 1) ** alpha, hyp, K)
        # Live beams: the best K non-EOS candidates.
        keep_s, keep_j = top_s.masked_fill(is_eos, float("-inf")).topk(K, dim=1)
        keep_i = top_i.gather(1, keep_j)
        origin = (keep_i // V).add_(torch.arange(0, n * K, K, device=dev).unsqueeze(1)).view(-1)
        history = torch.cat([history.index_select(0, origin), top_tok.gather(1, keep_j).view(-1, 1)], 1)
        state = state.index_select(origin)
        scores, tokens = keep_s, history[:, -1]
        t += 1
        capped = [r for r, s in enumerate(alive) if t >= limit[s]]
        if capped:                           # length cap: complete the live beams with EOS
            rows = (torch.tensor(capped, device=dev).unsqueeze(1) * K + torch.arange(K, device=dev)).view(-1)
            last, _ = step(tokens[rows], state.index_select(rows), memory.index_select(rows))
            eos_lp = last.float().log_softmax(-1)[:, _column(step, EOS)].view(len(capped), K)
            final = (keep_s.index_select(0, rows[::K] // K) + eos_lp).tolist()
            for i, r in enumerate(capped):
                for k in range(K):
                    if final[i][k] > float("-inf"):
                        hyp = history[r * K + k].tolist()
                        add_finished(finished[alive[r]], final[i][k] / (len(hyp) + 1) ** alpha, hyp, K)
        still = [r for r, s in enumerate(alive) if t < limit[s] and len(finished[s]) < K]
        if len(still) < n:
            if not still:
                break
            rows = torch.tensor(still, device=dev)
            beam_rows = (rows.unsqueeze(1) * K + torch.arange(K, device=dev)).view(-1)
            alive = [alive[r] for r in still]
            scores, tokens, history = scores.index_select(0, rows), tokens[beam_rows], history[beam_rows]
            state, memory = state.index_select(beam_rows), memory.index_select(beam_rows)
    return [max(f, key=lambda x: x[0])[1] if f else [] for f in finished]
