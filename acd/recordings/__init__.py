"""The recording store's file side: sealing at rest, ranged playback, erasure, certificates.

* :mod:`acd.recordings.keyring` — the AES keys, by key id: generated at first use,
  rotated, destroyed (crypto-shredding).
* :mod:`acd.recordings.sealed` — the chunked AES-256-GCM file format; seal, verify, and
  decrypt any byte range.
* :mod:`acd.recordings.erasure` — overwrite-and-unlink and crypto-shredding, each giving a
  :class:`~acd.recordings.erasure.Tombstone`.
* :mod:`acd.recordings.certificate` — the erasure certificate (抹消証明書) as HTML and CSV.

Pure file I/O and dataclasses: the database, HTTP and CLI are wired on top elsewhere.
"""

from acd.recordings.certificate import (
    CertificateHeader,
    CertificateItem,
    items_digest,
    parse_csv,
    render_csv,
    render_html,
    verify_csv,
)
from acd.recordings.erasure import (
    CRYPTO_SHRED,
    OVERWRITE_UNLINK,
    ErasureError,
    Tombstone,
    crypto_shred,
    overwrite_and_unlink,
)
from acd.recordings.keyring import (
    InsecureKeyringError,
    KeyDestroyedError,
    KeyInfo,
    Keyring,
    KeyringError,
    UnknownKeyError,
)
from acd.recordings.sealed import (
    NotSealedError,
    SealedFileError,
    SealedHeader,
    SealedReader,
    SealError,
    SealInfo,
    SealResult,
    TamperedError,
    TruncatedError,
    UnsupportedFormatError,
    VerifyInfo,
    WrongKeyError,
    open_sealed,
    read_header,
    seal_file,
    seal_recording,
    sealed_path_for,
    verify_sealed,
)

__all__ = [
    "CRYPTO_SHRED", "OVERWRITE_UNLINK", "CertificateHeader", "CertificateItem",
    "ErasureError", "InsecureKeyringError", "KeyDestroyedError", "KeyInfo", "Keyring",
    "KeyringError", "NotSealedError", "SealError", "SealInfo", "SealResult", "SealedFileError",
    "SealedHeader", "SealedReader", "TamperedError", "Tombstone", "TruncatedError",
    "UnknownKeyError", "UnsupportedFormatError", "VerifyInfo", "WrongKeyError", "crypto_shred",
    "items_digest", "open_sealed", "overwrite_and_unlink", "parse_csv", "read_header",
    "render_csv", "render_html", "seal_file", "seal_recording", "sealed_path_for",
    "verify_csv", "verify_sealed",
]
