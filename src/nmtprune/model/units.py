"""Hidden units as groups of weights (Wen et al. 2018's "intrinsic sparse structures").

A unit is named once, here, with every weight it owns; scoring, masking and
shrinking all work from that one definition. Units come in *families* of
interchangeable units that share a width:

- ``src_embed`` / ``tgt_embed``: an embedding dimension j: column j of the
  embedding table and column j of the first LSTM layer's input matrix;
- ``enc_layer{k}``: a unit of encoder layer k (forward units first, then the
  reverse direction's): its rows in the four gates (input and recurrent
  matrices, both biases), its column in its direction's recurrent matrix, and
  its column in every consumer: the next layer's input (both directions) or,
  for the top layer, the attention keys (``W_a``) and the context half of
  ``attn_out``;
- ``dec_layer{k}``: a unit of decoder layer k: its gate rows, its recurrent
  column, and its column in the next layer's input or, for the top layer, its
  row of ``W_a`` (the query) and the state half of ``attn_out``;
- ``attn_state``: a dimension of the attentional state h~: its row of
  ``attn_out``, its column in the softmax layer and in input feeding.

With all its rows and biases at zero a unit's gates are constant, its output
never reaches another unit (its columns are zero too), so a masked unit is
exactly a removed one: :func:`shrink` drops it and the smaller model computes
the same translations. (A decoder unit may still start from a bridged encoder
state and decay from it; nothing reads it.) Supported for ``general`` attention.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ..errors import NmtpruneError
from .config import ModelConfig
from .seq2seq import Seq2Seq

# (parameter name, dim, index (n_units, m)): unit u owns param.index_select(dim, index[u]).
Slice = tuple[str, int, torch.Tensor]


@dataclass
class Family:
    """Interchangeable units sharing a width: ``size`` units, each owning ``slices``; ``parts``
    equal runs of them that must keep the same count (an encoder layer's two directions, which
    one fused ``nn.LSTM`` gives one width)."""
    name: str
    size: int
    slices: list[Slice]
    parts: int = 1


def _gates(h: int) -> torch.Tensor:
    """Gate rows of units 0..h-1 of a (4h, .) LSTM matrix: (h, 4)."""
    u = torch.arange(h)
    return torch.stack([u + g * h for g in range(4)], 1)


def _cols(idx: torch.Tensor) -> torch.Tensor:
    return idx.reshape(-1, 1)


def check_unit_model(cfg: ModelConfig) -> None:
    """Unit pruning needs ``general`` attention (dot ties encoder and decoder dimensions,
    concat has hidden units of its own)."""
    if cfg.attention != "general":
        raise NmtpruneError(f"--granularity unit supports general attention; this model uses {cfg.attention!r}")


def families(model: Seq2Seq) -> list[Family]:
    """Every unit family of ``model`` with the slices its units own."""
    cfg = model.cfg
    check_unit_model(cfg)
    dirs = 2 if cfg.bidirectional else 1
    h, L, E, Hd, He = cfg.enc_hidden // dirs, cfg.enc_layers, cfg.emb_dim, cfg.dec_hidden, cfg.enc_hidden
    sfx = [""] + (["_reverse"] if dirs == 2 else [])
    e = torch.arange(E)
    out = [Family("src_embed", E, [("encoder.embed.weight", 1, _cols(e))] +
                  [(f"encoder.lstm.weight_ih_l0{s}", 1, _cols(e)) for s in sfx]),
           Family("tgt_embed", E, [("decoder.embed.weight", 1, _cols(e)), ("decoder.layers.0.weight_ih", 1, _cols(e))])]
    for k in range(L):
        slices: list[Slice] = []
        for d, s in enumerate(sfx):
            own = torch.arange(h) + d * h        # this direction's units among the layer's outputs
            rows = torch.zeros(dirs * h, 4, dtype=torch.long)
            rows[own] = _gates(h)
            for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                slices.append((f"encoder.lstm.{p}_l{k}{s}", 0, _direction(rows, own)))
            cols = torch.full((dirs * h, 1), -1, dtype=torch.long)
            cols[own, 0] = torch.arange(h)
            slices.append((f"encoder.lstm.weight_hh_l{k}{s}", 1, cols))
        pos = _cols(torch.arange(dirs * h))
        if k + 1 < L:
            slices += [(f"encoder.lstm.weight_ih_l{k + 1}{s}", 1, pos) for s in sfx]
        else:
            slices += [("decoder.attention.W_a.weight", 1, pos), ("decoder.attn_out.weight", 1, pos)]
        out.append(Family(f"enc_layer{k}", dirs * h, slices, parts=dirs))
    for k in range(cfg.dec_layers):
        u = torch.arange(Hd)
        slices = [(f"decoder.layers.{k}.{p}", 0, _gates(Hd)) for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        slices.append((f"decoder.layers.{k}.weight_hh", 1, _cols(u)))
        if k + 1 < cfg.dec_layers:
            slices.append((f"decoder.layers.{k + 1}.weight_ih", 1, _cols(u)))
        else:
            slices += [("decoder.attention.W_a.weight", 0, _cols(u)), ("decoder.attn_out.weight", 1, _cols(u + He))]
        out.append(Family(f"dec_layer{k}", Hd, slices))
    u = torch.arange(Hd)
    state = [("decoder.attn_out.weight", 0, _cols(u)), ("decoder.out.weight", 1, _cols(u))]
    if cfg.input_feed:
        state.append(("decoder.layers.0.weight_ih", 1, _cols(u + E)))
    out.append(Family("attn_state", Hd, state))
    return out


def _direction(index: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """Rows of a per-direction matrix: units of the other direction own nothing there (-1)."""
    out = torch.full_like(index, -1)
    out[own] = index[own]
    return out


def unit_entries(param: torch.Tensor, dim: int, index: torch.Tensor) -> torch.Tensor:
    """``param``'s entries each unit owns along ``dim``: (n_units, m, rest), zeros where a unit
    owns nothing (index -1: a unit of the other direction in a per-direction matrix)."""
    valid = index >= 0
    sel = param.movedim(dim, 0).index_select(0, index.clamp_min(0).reshape(-1))
    sel = sel.reshape(*index.shape, -1)
    return sel * valid.unsqueeze(-1).to(sel.dtype)


def kept_units(model: Seq2Seq, masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per family, which units the masks keep (True): a unit is removed when every entry it
    owns is masked out."""
    out = {}
    for fam in families(model):
        alive = torch.zeros(fam.size, dtype=torch.bool)
        for name, dim, index in fam.slices:
            if name not in masks:            # a parameter nothing masks: every unit keeps its part
                alive[:] = True
                continue
            alive |= unit_entries(masks[name].cpu(), dim, index).flatten(1).any(1)
        out[fam.name] = alive
    return out


def removed_unit_keep(model: Seq2Seq, masks: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor] | None:
    """:func:`kept_units` when ``masks`` remove at least one whole unit (unit pruning, also under a
    weight pruning on top); None otherwise, or for a model without unit families (dot/concat)."""
    if not masks or model.cfg.attention != "general":
        return None
    keep = kept_units(model, masks)
    return None if all(bool(k.all()) for k in keep.values()) else keep


def unit_masks(model: Seq2Seq, removed: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep-masks of every parameter a unit owns, with ``removed[family]`` (bool (n,)) masked out."""
    params, fams = dict(model.named_parameters()), families(model)
    masks = {n: torch.ones_like(params[n], dtype=torch.bool) for fam in fams for n, _, _ in fam.slices}
    for fam in fams:
        gone = removed[fam.name].nonzero().flatten()
        for name, dim, index in fam.slices:
            idx = index[gone].reshape(-1)
            idx = idx[idx >= 0]
            masks[name].index_fill_(dim, idx.to(masks[name].device), False)
    return masks


def _kept_per_part(fam: Family, keep: torch.Tensor) -> int:
    """The most units kept in any one part of ``fam`` (a direction of an encoder layer)."""
    return max(int(k.sum()) for k in keep.chunk(fam.parts))


def _width_indices(fam: Family, keep: torch.Tensor, width: int) -> torch.Tensor:
    """The old units the smaller model keeps for ``fam``, ``width`` of them per part: the kept
    ones, padded with removed (all-zero) ones to the shared width, in order."""
    per, out = fam.size // fam.parts, []
    for d, k in enumerate(keep.chunk(fam.parts)):
        order = torch.cat([k.nonzero().flatten(), (~k).nonzero().flatten()])[:width]
        out.append(order.sort().values + d * per)
    return torch.cat(out)


def shrink(model: Seq2Seq, keep: dict[str, torch.Tensor], *,
           masks: dict[str, torch.Tensor] | None = None) -> tuple[Seq2Seq, dict[str, torch.Tensor] | None]:
    """The smaller dense model without the removed units: the same translations as ``model``
    with its unit masks applied, in smaller matrices.

    Layers of one fused ``nn.LSTM`` stack share a width, and so do the source and target
    embeddings (one ``emb_dim``) and the decoder layers with h~ (one ``dec_hidden``): each
    width is the largest kept count among the families sharing it, the others padded with
    removed units (all zero: they compute exactly 0, or, bridged from the encoder, a state
    nothing reads). The encoder-decoder bridge keeps its pairing through
    ``cfg.bridge_units``.

    Returns the smaller model and ``masks`` cut the same way (a pruning inside the kept units;
    None if none is left), so weight sparsity can be exported on top.
    """
    cfg, fams = model.cfg, families(model)
    dirs = 2 if cfg.bidirectional else 1
    # The config value each family's width sets: families of one config value share a width.
    shared = {f.name: "emb" if f.name.endswith("embed") else "enc" if f.name.startswith("enc_") else "dec"
              for f in fams}
    widths: dict[str, int] = {}
    for f in fams:
        widths[shared[f.name]] = max(widths.get(shared[f.name], 1), _kept_per_part(f, keep[f.name]))
    chosen = {f.name: _width_indices(f, keep[f.name], widths[shared[f.name]]) for f in fams}
    new_cfg = dataclasses.replace(cfg, emb_dim=widths["emb"], enc_hidden=widths["enc"] * dirs,
                                  dec_hidden=widths["dec"], bridge_units=_bridge(model, chosen))
    small = Seq2Seq(new_cfg)
    small.load_state_dict(_sliced(model.state_dict(), fams, chosen))
    rest = {n: m for n, m in _sliced(masks or {}, fams, chosen).items() if not bool(m.all())}
    return small.eval(), rest or None


def _bridge(model: Seq2Seq, chosen: dict[str, torch.Tensor]) -> list:
    """For each decoder layer, each kept unit's position among the kept encoder outputs of the
    same layer (-1: that encoder unit is gone, so the unit starts from 0); [] when the model has
    no bridge (so the smaller model, whose widths may now match, gets none either)."""
    if not model.bridge:
        return []
    out = []
    for k in range(model.cfg.dec_layers):
        where = {int(p): i for i, p in enumerate(chosen[f"enc_layer{k}"])}
        out.append([where.get(int(u), -1) for u in chosen[f"dec_layer{k}"]])
    return out


def _sliced(tensors: dict[str, torch.Tensor], fams: list[Family], chosen: dict[str, torch.Tensor]) -> dict:
    """Every tensor (parameters, or their masks) cut to the chosen units along each dim the units own."""
    picks: dict[tuple[str, int], list[torch.Tensor]] = {}
    for f in fams:
        for name, dim, index in f.slices:
            rows = index[chosen[f.name]]
            rows = rows[rows[:, 0] >= 0]               # the other direction's units own nothing here
            picks.setdefault((name, dim), []).append(rows.t().reshape(-1))   # gate-major, as LSTMs lay rows
    state = {}
    for name, p in tensors.items():
        t = p
        for dim in range(p.dim()):
            if (name, dim) in picks:
                t = t.index_select(dim, torch.cat(picks[(name, dim)]).to(p.device))
        state[name] = t.clone()
    return state
