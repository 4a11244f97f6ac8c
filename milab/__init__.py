"""milab: Azure managed-identity tutorials as pytest scenarios, against an emulated Azure or a sandbox."""

__version__ = "0.1.0"
