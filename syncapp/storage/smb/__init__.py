"""A folder in an SMB share (Windows, Samba, most NAS devices), spoken to with pysmb.

`wire.py` holds the SMB2 wire layer (pysmb's connection and the pipelined requests built on its
private API), `remote.py` the Remote itself. `syncapp.storage.smb` is the module the registry
(`storage.BACKENDS`) imports: it exports `SmbRemote`.
"""

from .remote import SmbRemote

__all__ = ["SmbRemote"]
