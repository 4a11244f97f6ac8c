"""The directory's two APIs: Microsoft Graph v1.0 (``graph.microsoft.com``) and the retired
Azure AD Graph 1.6 (``graph.windows.net``), both over ``emu.directory`` (``core.py`` holds what
they share; ``msgraph.py`` and ``aadgraph.py`` their routes, shapes and errors)."""
from .aadgraph import AzureAdGraph
from .msgraph import MicrosoftGraph

__all__ = ["AzureAdGraph", "MicrosoftGraph"]
