"""The two targets scenarios run against: the embedded emulator and a sandbox subscription."""
from .base import Target, Vm, wait_until

__all__ = ["Target", "Vm", "wait_until"]
