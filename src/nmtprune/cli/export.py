"""The export command: a checkpoint as one small ``.nmtz`` file."""
from __future__ import annotations

import json
import sys

from ..errors import NmtpruneError
from .options import Names, command


@command("export", "write a self-contained, really smaller .nmtz model file")
def _export(sub):
    from ..checkpoint.nmtz import VALUES
    sub.add_argument("checkpoint", help="checkpoint, its run directory, or an .nmtz file")
    sub.add_argument("--out", required=True, help="output file (.nmtz)")
    sub.add_argument("--values", default="fp32", choices=Names("--values", VALUES),
                     help="kept values as fp32 (lossless), fp16, int8 or int4 (per-row scales)")

    def run(a):
        from ..checkpoint.export import export
        if not a.out.endswith(".nmtz"):
            raise NmtpruneError(f"--out {a.out}: the exported file must end in .nmtz")
        r = export(a.checkpoint, a.out, values=a.values)
        note = "" if r["has_mask"] else " (no mask: stored dense)"
        print(f"{a.out}: {r['bytes'] / 1e6:.2f} MB, {r['ratio']:.3f}x the dense fp32 weights{note}",
              file=sys.stderr)
        print(json.dumps(r))
    return run
