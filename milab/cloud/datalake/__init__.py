"""Data Lake Storage: Gen1's WebHDFS file system (``gen1.py``, retired) and Gen2's DFS endpoint
on hierarchical-namespace storage accounts (``gen2.py``), sharing one hierarchical namespace
with POSIX ACLs (``tree.py``, ``posix.py``)."""
from .gen1 import DataLakeStoreGen1
from .gen2 import DataLakeStoreGen2

__all__ = ["DataLakeStoreGen1", "DataLakeStoreGen2"]
