"""The emulated Azure Resource Manager: front door, resource types, providers."""
