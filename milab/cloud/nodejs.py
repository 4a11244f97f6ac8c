"""The Node.js milab runs: the one ``infra/package.json`` pins (npm's "node" package; Azurite,
``@azure/cosmos`` and ``@azure/identity`` need 22 or later, Debian 12 ships 18), with the packages
installed beside it (``NODE_PATH``), and the network guard every Node.js program milab hands an
environment to loads (:data:`NODE_GUARD`, through ``NODE_OPTIONS``)."""
from __future__ import annotations

import shutil
from pathlib import Path

NODE_MODULES = Path(__file__).resolve().parents[2] / "infra" / "node_modules"
NODE = NODE_MODULES / ".bin" / "node"
# Loaded into every Node.js program that runs with an environment of milab's (the operator's, a
# guest's, a page's JavaScript step), as netguard/sitecustomize.py is into the Azure CLI: sockets
# reach loopback only, and a client that takes no proxy (@azure/cosmos) reaches an emulated host by
# name through the emulator's HTTPS for such clients; anything else is refused before a DNS lookup.
NODE_GUARD = Path(__file__).resolve().parents[1] / "pages" / "netguard" / "node_guard.js"


def node_options() -> str:
    """``NODE_OPTIONS`` loading :data:`NODE_GUARD` (quoted: Node splits the variable at spaces)."""
    return f'--require="{NODE_GUARD}"'


def node_binary() -> str:
    """The pinned Node.js when it is installed (``make deps``), else the one on ``PATH``."""
    return str(NODE) if NODE.exists() else shutil.which("node") or "node"
