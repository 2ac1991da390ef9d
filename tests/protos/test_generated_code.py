"""The committed generated code must be exactly what `make proto` produces."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "protos"


def _load_generator():
    spec = importlib.util.spec_from_file_location("ucf_proto_generate", ROOT / "generate.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_generated_code_matches_protos(tmp_path: Path) -> None:
    generator = _load_generator()
    fresh = generator.generate(tmp_path)
    assert fresh, "no generated files: is the proto tree empty?"
    drift = []
    for path in fresh:
        rel = path.relative_to(tmp_path)
        committed = ROOT / rel
        if not committed.exists() or committed.read_bytes() != path.read_bytes():
            drift.append(str(rel))
    committed_all = {p.relative_to(ROOT) for s in generator.GENERATED_SUFFIXES for p in ROOT.glob(f"ucf/**/*{s}")}
    stale = committed_all - {p.relative_to(tmp_path) for p in fresh}
    assert not drift, f"generated code is out of date, run `make proto`: {drift}"
    assert not stale, f"generated files without a .proto: {sorted(map(str, stale))}"


@pytest.mark.parametrize(
    "module",
    ["ucf.vault.v1.vault_pb2_grpc", "ucf.connector.v1.connectors_pb2_grpc", "ucf.connector.v1.jobs_pb2"],
)
def test_import_path_equals_proto_package(module: str) -> None:
    __import__(module)
    assert module in sys.modules
