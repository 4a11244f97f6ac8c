"""Emulated Azure cloud services used by milab."""
