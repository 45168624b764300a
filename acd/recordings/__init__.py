"""The recording feature: sealed recordings, searched, played, erased, certified.

The file side (pure file I/O and dataclasses, re-exported here):

* :mod:`acd.recordings.keyring` — the AES keys, by key id: generated at first use,
  rotated, destroyed (crypto-shredding, :func:`~acd.recordings.keyring.crypto_shred`).
* :mod:`acd.recordings.sealed` — the chunked AES-256-GCM file format; seal, verify, and
  decrypt any byte range.
* :mod:`acd.recordings.erasure` — overwrite-and-unlink, giving a
  :class:`~acd.recordings.erasure.Tombstone`.
* :mod:`acd.recordings.certificate` (HTML, CSV), :mod:`~acd.recordings.certificate_pdf`,
  :mod:`~acd.recordings.certificate_personal` — the erasure certificate (抹消証明書).

The product side, on the database:

* :mod:`acd.recordings.store` — :class:`~acd.recordings.store.RecordingStore`, the thin
  façade the controller, the gateway and the CLI hold; built by
  :func:`acd.recordings.factory.store_from_settings`;
* :mod:`acd.recordings.models` — errors (error ids), results, segments, retention;
* :mod:`acd.recordings.rows` — the ``recordings`` table and the access log;
* :mod:`acd.recordings.sealing` — sealing after a call, recovery after a crash;
* :mod:`acd.recordings.archive` — search, playback, signed playback URLs;
* :mod:`acd.recordings.purge` — the retention purge, erasure before the time, keys;
* :mod:`acd.recordings.certificate_issue` — the certificate of a period;
* :mod:`acd.recordings.personal_data` — the personal data of the calls in the database;
* :mod:`acd.recordings.schedule` — the daily purge;
* :mod:`acd.recordings.on_demand` — recording started and stopped during a call.
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
    overwrite_and_unlink,
)
from acd.recordings.keyring import (
    InsecureKeyringError,
    KeyDestroyedError,
    KeyInfo,
    Keyring,
    KeyringError,
    UnknownKeyError,
    crypto_shred,
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
