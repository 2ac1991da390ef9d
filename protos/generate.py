"""Regenerate the Python gRPC code for every .proto under this folder.

`python protos/generate.py [OUT_DIR]` writes `*_pb2.py`, `*_pb2.pyi` and
`*_pb2_grpc.py` next to each .proto (or into OUT_DIR, which the drift test uses
to compare a fresh generation against the committed files).
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files() -> list[Path]:
    return sorted(ROOT.glob("ucf/**/*.proto"))


def generate(out_dir: Path = ROOT) -> list[Path]:
    """Generate code for every proto file into out_dir; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    include = str(Path(protoc.__file__).parent / "_proto")
    files = [str(p.relative_to(ROOT)) for p in proto_files()]
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{ROOT}",
            f"-I{include}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            *files,
        ]
    )
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    return sorted(p for s in GENERATED_SUFFIXES for p in out_dir.glob(f"ucf/**/*{s}"))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    for path in generate(target):
        print(path.relative_to(target))
