"""`python -m gateway.generate_openapi [PATH]`: write the OpenAPI document
(default `interfaces/openapi.json` at the repository root). A test fails when
the committed file differs from a fresh generation.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gateway.app import create_app
from gateway.settings import GatewaySettings

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "interfaces" / "openapi.json"


def openapi_text(settings: GatewaySettings | None = None) -> str:
    """The document as written to disk: stable key order, two-space indent, final newline."""
    document = create_app(settings or GatewaySettings()).openapi()
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(openapi_text(), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
