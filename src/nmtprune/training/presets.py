"""Named presets (model + training settings) and the configs built from them."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..config import from_dict
from ..errors import choose
from ..model.config import ModelConfig
from .config import TrainConfig


@dataclass
class Preset:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    # Settings of ``nmtprune prepare`` the preset was designed for (a study preparing its data
    # for this preset starts from them; its own ``prepare`` settings override).
    prepare: dict = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    # Tests and smoke runs: one Multi30k epoch in well under 2 minutes on 2 cores.
    "tiny": Preset(ModelConfig(emb_dim=32, enc_hidden=64, enc_layers=1, dec_hidden=64, dec_layers=1,
                               dropout=0.1),
                   TrainConfig(epochs=1, batch_tokens=4096, lr=3e-3)),
    # The CPU default, tuned for Multi30k: 30 epochs (3,600 steps) in ~43 min fp32 on 2 idle cores.
    # Bounded by epochs, never by wall-clock minutes: the same config and seed train the same
    # steps on a busy machine as on an idle one (a time budget made results depend on the load).
    "small": Preset(ModelConfig(emb_dim=256, enc_hidden=256, enc_layers=2, dec_hidden=256, dec_layers=2,
                                dropout=0.3),
                    TrainConfig(epochs=30, batch_tokens=4096, lr=2e-3, label_smoothing=0.1, early_stop=4)),
    # See, Luong & Manning 2016: 4 x 1000 LSTMs, 1000-d embeddings, a word-level 50k vocabulary
    # per side; SGD at lr 1.0 with gradients clipped at norm 5 on the loss summed per sentence and
    # averaged over the batch's sentences (as Luong et al.), halved every epoch after the 8th.
    "paper": Preset(ModelConfig(emb_dim=1000, enc_hidden=1000, enc_layers=4, bidirectional=False,
                                dec_hidden=1000, dec_layers=4, dropout=0.2),
                    TrainConfig(optimizer="sgd", lr=1.0, clip=5.0, loss_norm="sentences", epochs=12,
                                batch_tokens=8192, sgd_decay_start=8),
                    prepare={"tokenizer": "word", "vocab_size": 50000}),
}


def get_preset(name: str) -> Preset:
    choose("preset", name, PRESETS)
    p = PRESETS[name]
    return Preset(dataclasses.replace(p.model), dataclasses.replace(p.train), dict(p.prepare))


def configs(preset: str, model_overrides: dict | None,
            train_overrides: dict | None) -> tuple[ModelConfig, TrainConfig]:
    """The preset's model and train configs with ``overrides`` applied (unknown keys are errors)."""
    p = get_preset(preset)
    m = from_dict(ModelConfig, {**dataclasses.asdict(p.model), **(model_overrides or {})}, "model config")
    t = from_dict(TrainConfig, {**dataclasses.asdict(p.train), **(train_overrides or {})}, "train config")
    return m, t.validate()


def retrain_config(preset: str | None, overrides: dict | None) -> TrainConfig:
    """The preset's settings for two thirds of its epochs (20 of `small`'s 30).

    Not See et al.'s short retraining: on `small`, 4 epochs after a one-shot 80% cut
    left test BLEU at 17.9 (dense 41.5, an earlier run). Gradual pruning (``prune_to``)
    with 20 epochs had the best validation BLEU of the budgets tried within the dense
    run's (80%: 40.92 vs 40.62 ± 0.45 at 10 epochs; 90%: 39.55 vs 38.42 at 15 and
    38.22 ± 0.67 at 10; benchmarks/results/recovery.json) and still costs less than
    the dense training (2,400 of its 3,600 steps). SGD restarts at half the learning
    rate, as See et al.'s did; Adam keeps the preset's (its fresh moments already
    make the first steps small). Any key can be overridden."""
    base = get_preset(preset if preset in PRESETS else "small").train
    d = dataclasses.asdict(base)
    d.update(lr=base.lr * (0.5 if base.optimizer == "sgd" else 1.0), epochs=max(1, round(base.epochs * 2 / 3)),
             max_minutes=0.0, early_stop=2, sgd_decay_start=1)
    d.update(overrides or {})
    return from_dict(TrainConfig, d, "retrain config").validate()
