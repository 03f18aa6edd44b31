"""A throwaway certificate authority that issues good and deliberately broken server certificates."""

from __future__ import annotations

import datetime
import os
import shutil
import ssl
import tempfile
import weakref

import trustme

CERT_KINDS = ("valid", "expired", "untrusted", "wrong_host")
"""What ``CertAuthority.server_context`` can issue."""

DEFAULT_HOSTNAMES = ("localhost", "127.0.0.1", "::1")
EXPIRED_DAYS_AGO = 3
WRONG_HOSTNAME = "wrong.example"


class CertAuthority:
    """A trustme CA whose certificate a client can trust through ``ca_bundle_path``.

    Use it as a context manager, or call ``close()``, to delete the bundle file.
    """

    def __init__(self) -> None:
        self._ca = trustme.CA()
        self._bundle_dir: str | None = None
        self._remove_bundle_dir = None

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate, PEM-encoded."""
        return self._ca.cert_pem.bytes()

    @property
    def ca_bundle_path(self) -> str:
        """Path of a PEM file holding the CA certificate (for ``verify=`` or ``cafile=``)."""
        if self._bundle_dir is None:
            self._bundle_dir = tempfile.mkdtemp(prefix="healthcrawl-ca-")
            self._remove_bundle_dir = weakref.finalize(
                self, shutil.rmtree, self._bundle_dir, ignore_errors=True
            )
            self._ca.cert_pem.write_to_path(os.path.join(self._bundle_dir, "ca.pem"))
        return os.path.join(self._bundle_dir, "ca.pem")

    def server_context(
        self,
        kind: str = "valid",
        days_left: float | None = None,
        hostnames: tuple[str, ...] = DEFAULT_HOSTNAMES,
    ) -> ssl.SSLContext:
        """A server-side SSLContext presenting a fresh certificate of the given ``kind``.

        ``kind`` is one of ``CERT_KINDS``: "valid" (this CA, for ``hostnames``), "expired"
        (expired ``EXPIRED_DAYS_AGO`` days ago), "untrusted" (a different, throwaway CA) or
        "wrong_host" (this CA, but only for ``wrong.example``). ``days_left`` sets notAfter
        to now + that many days; with "expired" it must be negative.
        """
        if kind not in CERT_KINDS:
            raise ValueError(f"kind must be one of {CERT_KINDS}, not {kind!r}")
        if kind == "expired":
            if days_left is not None and days_left >= 0:
                raise ValueError("an expired certificate needs a negative days_left")
            if days_left is None:
                days_left = -EXPIRED_DAYS_AGO
        issuer = trustme.CA() if kind == "untrusted" else self._ca
        if kind == "wrong_host":
            hostnames = (WRONG_HOSTNAME,)
        not_after = None  # trustme's default: the year 3000
        if days_left is not None:
            not_after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days_left)
        leaf = issuer.issue_cert(*hostnames, not_after=not_after)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        leaf.configure_cert(context)
        return context

    def client_certificate_path(self, name: str = "client.example") -> str:
        """Path of a PEM file holding a new client certificate for ``name`` issued by this CA, and its key."""
        path = os.path.join(os.path.dirname(self.ca_bundle_path), f"client-{name}.pem")
        self._ca.issue_cert(name).private_key_and_cert_chain_pem.write_to_path(path)
        return path

    def server_certificate_path(self, folder: str | os.PathLike, hostnames: tuple[str, ...] = DEFAULT_HOSTNAMES) -> str:
        """Write ``folder/server.pem``: a new certificate for ``hostnames`` from this CA and its key (for real servers)."""
        path = os.path.join(folder, "server.pem")
        self._ca.issue_cert(*hostnames).private_key_and_cert_chain_pem.write_to_path(path)
        return path

    def trust_client_certificates(self, context: ssl.SSLContext) -> None:
        """Make a server ``context`` require a client certificate issued by this CA."""
        context.verify_mode = ssl.CERT_REQUIRED
        self._ca.configure_trust(context)

    def close(self) -> None:
        """Delete the CA bundle file, if it was written."""
        if self._remove_bundle_dir is not None:
            self._remove_bundle_dir()
            self._bundle_dir = None
            self._remove_bundle_dir = None

    def __enter__(self) -> CertAuthority:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
