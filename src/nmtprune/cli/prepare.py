"""Commands of the data stage: prepare, download."""
from __future__ import annotations

from ..errors import NmtpruneError
from .options import Names, command, number, quiet, show_progress


@command("prepare", "tokenize a parallel corpus into a prepared directory")
def _prepare(sub):
    from ..data.tokenizers import TOKENIZERS
    sub.add_argument("--data", help="directory of {split}.{lang}[.gz] files, or a corpus name "
                     "(multi30k: fetched into the cache on first use)")
    sub.add_argument("--split-files", nargs=3, action="append", metavar=("SPLIT", "SRC", "TGT"),
                     help="explicit files for a split (repeatable)")
    sub.add_argument("--src", required=True, help="source language (file suffix)")
    sub.add_argument("--tgt", required=True, help="target language (file suffix)")
    sub.add_argument("--out", required=True, help="prepared directory to write")
    sub.add_argument("--tokenizer", default="bpe", choices=Names("tokenizer", TOKENIZERS),
                     help="bpe, unigram (SentencePiece) or word level")
    sub.add_argument("--vocab-size", type=number(int), default=8000, help="per side (total when --joint)")
    sub.add_argument("--joint", action="store_true",
                     help="one tokenizer for both sides (each side's vocabulary: the pieces it uses)")
    sub.add_argument("--shared-vocab", action="store_true",
                     help="with --joint: both sides keep the whole joint vocabulary")
    sub.add_argument("--min-freq", type=number(int), default=1, help="word level frequency cutoff")
    sub.add_argument("--max-len", type=number(int), default=100,
                     help="training pairs longer than this (tokens, either side) are dropped")
    sub.add_argument("--train-split", default="train", help="split the tokenizers and the model train on")
    sub.add_argument("--valid-split", default="val", help="split validated on while training")
    quiet(sub)

    def run(a):
        from ..api import prepare
        if a.data is None and not a.split_files:
            raise NmtpruneError("prepare: give --data DIR (or a corpus name such as multi30k) or --split-files")
        files = {s: (x, y) for s, x, y in (a.split_files or [])}
        prepare(a.out, data=a.data, src=a.src, tgt=a.tgt, files=files, tokenizer=a.tokenizer, vocab_size=a.vocab_size,
                joint=a.joint, side_vocab=not a.shared_vocab, min_freq=a.min_freq, max_len=a.max_len,
                train_split=a.train_split, valid_split=a.valid_split, progress=show_progress(a))
        print(a.out)
    return run


@command("download", "fetch a public corpus into the cache (or --out DIR); needs network or $NMTPRUNE_MIRROR")
def _download(sub):
    from ..data.corpora import CORPORA
    sub.add_argument("corpus", choices=Names("corpus", CORPORA), help="corpus to fetch")
    sub.add_argument("--out", help="directory for the files (default: the cache, where --data NAME looks)")
    sub.add_argument("--langs", nargs="+", metavar="LANG", help="only the files of these languages")
    quiet(sub)

    def run(a):
        from ..data.download import download
        print(download(a.corpus, out=a.out, langs=a.langs, progress=show_progress(a)))
    return run
