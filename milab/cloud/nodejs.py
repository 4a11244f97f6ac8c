"""The Node.js milab runs: the one ``infra/package.json`` pins (npm's "node" package; Azurite,
``@azure/cosmos`` and ``@azure/identity`` need 22 or later, Debian 12 ships 18), with the packages
installed beside it (``NODE_PATH``)."""
from __future__ import annotations

import shutil
from pathlib import Path

NODE_MODULES = Path(__file__).resolve().parents[2] / "infra" / "node_modules"
NODE = NODE_MODULES / ".bin" / "node"


def node_binary() -> str:
    """The pinned Node.js when it is installed (``make deps``), else the one on ``PATH``."""
    return str(NODE) if NODE.exists() else shutil.which("node") or "node"
