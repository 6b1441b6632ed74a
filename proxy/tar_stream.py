"""Reading an uploaded tar archive as a stream, with bounded memory, whatever its bytes.

`open_archive` opens a client's body with `tarfile`'s stream mode (`r|`, `r|gz`, `r|bz2`):
blocks are read forward only, a member's data is read by whoever consumes it (or skipped when
the next member is asked for). Metadata records that tarfile would hold whole in memory are
bounded: a GNU long name or a pax header larger than MAX_HEADER_RECORD is refused, and GNU
sparse members (their chains of extension headers) are refused. Every way bytes can fail to
be an archive raises one of JUNK.
"""
from __future__ import annotations

import tarfile
import zlib

MAX_HEADER_RECORD = 64 * 1024
JUNK = (tarfile.TarError, EOFError, zlib.error, OSError, ValueError, UnicodeDecodeError)
LONG_RECORDS = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
                tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)


class BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses records tarfile would otherwise read whole into memory."""

    def _proc_member(self, archive):
        if self.type in LONG_RECORDS and self.size > MAX_HEADER_RECORD:
            raise tarfile.ReadError(f"a header record of {self.size} bytes (most "
                                    f"{MAX_HEADER_RECORD})")
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise tarfile.ReadError("sparse members are not supported")
        return super()._proc_member(archive)


def open_archive(fileobj, compression: str) -> tarfile.TarFile:
    """The archive on `fileobj` ('' | 'gz' | 'bz2'); raises one of JUNK when it is not one."""
    return tarfile.open(mode="r|" + compression, fileobj=fileobj, tarinfo=BoundedTarInfo)
