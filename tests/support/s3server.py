"""A real S3-compatible server process (moto's server) over TLS, for tests.

The server runs as its own process on a free loopback port, with a throwaway
certificate authority and server certificate generated here. TLS is not a
nicety: the ``minio`` client only sends ``Content-MD5`` on signed requests
over https (over plain http it signs the payload's SHA-256 instead), and S3
refuses object-lock uploads that carry neither ``Content-MD5`` nor a
checksum header. Testing over https therefore exercises the same headers a
production TLS endpoint sees.

If the server cannot start, :func:`running_s3_server` raises with the reason
and the server's stderr; it never skips.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from minio import Minio

ACCESS_KEY = "records-test"
SECRET_KEY = "records-test-secret"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class S3ServerError(RuntimeError):
    """The test S3 server could not be started."""


@dataclass(frozen=True)
class S3ServerInfo:
    """How to reach a running test S3 server."""

    endpoint: str
    access_key: str
    secret_key: str
    ca_bundle: Path | None
    region: str = "us-east-1"
    secure: bool = True

    def raw_client(self, **pool: Any) -> Minio:
        """A plain ``minio`` client on the server, to inspect what it really holds
        (``pool``: more options for its urllib3 pool)."""
        http = urllib3.PoolManager(
            cert_reqs="CERT_REQUIRED",
            ca_certs=str(self.ca_bundle) if self.ca_bundle else None,
            **pool,
        )
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=self.secure,
            region=self.region,
            http_client=http,
        )


@dataclass(frozen=True)
class _TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _ca_certificate(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(_name("records-service test CA"))
        .issuer_name(_name("records-service test CA"))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _server_certificate(
    key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    now: dt.datetime,
) -> x509.Certificate:
    names: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.DNSName("localhost"),
    ]
    return (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def make_tls_files(directory: Path) -> _TlsFiles:
    """Write a fresh CA certificate and a loopback server certificate signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _ca_certificate(ca_key, now)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _server_certificate(server_key, ca_key, ca_cert, now)
    files = _TlsFiles(
        ca_cert=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
    )
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(server_key, files.server_key)
    return files


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str, context: ssl.SSLContext) -> bool:
    try:
        with urllib.request.urlopen(url, context=context, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP status means the server is up and TLS verified
    except (urllib.error.URLError, OSError):
        return False


def _server_failure(process: subprocess.Popen[bytes], stderr_path: Path, reason: str) -> str:
    stderr = stderr_path.read_text(errors="replace")[-4000:]
    return f"moto server did not start: {reason} (exit code {process.poll()}).\nstderr:\n{stderr}"


def _wait_until_up(
    process: subprocess.Popen[bytes], url: str, ca_cert: Path, stderr_path: Path
) -> None:
    context = ssl.create_default_context(cafile=str(ca_cert))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise S3ServerError(_server_failure(process, stderr_path, "process exited"))
        if _answers(url, context):
            return
        time.sleep(0.1)
    raise S3ServerError(
        _server_failure(process, stderr_path, f"no answer within {START_TIMEOUT_S:.0f}s")
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def running_s3_server() -> Iterator[S3ServerInfo]:
    """Run moto's S3 server over TLS on a free loopback port for the duration of the block."""
    with tempfile.TemporaryDirectory(prefix="records-s3-") as tmp:
        directory = Path(tmp)
        tls = make_tls_files(directory)
        port = _free_port()
        stderr_path = directory / "server.stderr"
        command = [
            sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port),
            "--ssl-cert", str(tls.server_cert), "--ssl-key", str(tls.server_key),
        ]  # fmt: skip
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        try:
            _wait_until_up(process, f"https://127.0.0.1:{port}/", tls.ca_cert, stderr_path)
            yield S3ServerInfo(
                endpoint=f"127.0.0.1:{port}",
                access_key=ACCESS_KEY,
                secret_key=SECRET_KEY,
                ca_bundle=tls.ca_cert,
            )
        finally:
            _stop(process)
