"""`acd tls`: the certificate softphones and browsers must trust, and its fingerprint."""

from __future__ import annotations

import argparse

from acd.adapters.tls import fingerprint, site_tls_files
from acd.cli.common import load_settings


def cmd_tls(args: argparse.Namespace) -> int:
    settings = load_settings()
    files = site_tls_files(settings)  # issued now by the local CA if there is none yet
    trusted = files.ca or files.cert
    pem = trusted.read_bytes()
    what = "the local CA" if files.ca else "the site's certificate"
    print(f"# {what}: {trusted}")
    print(f"# SHA-256 fingerprint: {fingerprint(pem)}")
    print(f"# server certificate: {files.cert}")
    if args.pem:
        print(pem.decode().strip())
    return 0


def add_tls_commands(sub) -> None:
    tls = sub.add_parser("tls", help="the certificate softphones and browsers must trust "
                         "(SIP over TLS, the consoles over https)")
    tls.add_argument("--pem", action="store_true", help="print the certificate itself too")
    tls.set_defaults(func=cmd_tls)
