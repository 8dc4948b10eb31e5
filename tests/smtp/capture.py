"""A real SMTP server for the delivery tests, built on aiosmtpd (installed into tests/.venv by
scripts/install-test-deps.sh).

Usage:
    python capture.py --port 0 --dir DIR [--user U --password P] [--starttls CERT KEY]

It binds 127.0.0.1 (port 0 picks a free one), prints
`smtp-capture listening on 127.0.0.1:PORT` on stdout once it accepts connections, and stores
each message it accepts as DIR/<n>.eml (the raw bytes received, n = 1, 2, ...), next to
DIR/<n>.json with the envelope ({"mail_from", "rcpt_tos", "authenticated_as"}). Both are written
atomically (temporary file, then rename), the JSON first, before the server answers 250: once a
client has its reply, the files are there.

Recipients whose local part starts with `reject-` are refused with 550 (a permanent failure) and
those starting with `tempfail-` with 451 (a transient one), so that clients can test both.

With --user and --password, AUTH PLAIN and LOGIN are offered (on the plain connection too) and
required before MAIL. With --starttls CERT KEY, STARTTLS is offered and required.
"""

import argparse
import asyncio
import itertools
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Capture:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject-"):
            return "550 5.1.1 Mailbox unavailable (rejected by smtp-capture)"
        if local.startswith("tempfail-"):
            return "451 4.3.0 Try again later (smtp-capture)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        login = None
        if isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode("utf-8", "replace")
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "authenticated_as": login,
        }
        write_atomically(
            os.path.join(self.directory, f"{n}.json"), json.dumps(meta).encode("utf-8")
        )
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content if isinstance(envelope.content, bytes) else b""
        write_atomically(os.path.join(self.directory, f"{n}.eml"), raw)
        return "250 OK message stored"


def write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def make_authenticator(user, password):
    expected = LoginPassword(user.encode("utf-8"), password.encode("utf-8"))

    def authenticator(server, session, envelope, mechanism, auth_data):
        if mechanism not in ("PLAIN", "LOGIN"):
            return AuthResult(success=False, handled=False)
        if not isinstance(auth_data, LoginPassword) or auth_data != expected:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=auth_data)

    return authenticator


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()
    if (args.user is None) != (args.password is None):
        parser.error("--user and --password go together")
    os.makedirs(args.dir, exist_ok=True)

    handler = Capture(args.dir)
    options = {}
    if args.user is not None:
        options.update(
            authenticator=make_authenticator(args.user, args.password),
            auth_required=True,
            auth_require_tls=False,
        )
    if args.starttls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.starttls[0], args.starttls[1])
        options.update(tls_context=context, require_starttls=True)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp-capture.test", loop=loop, **options),
        host="127.0.0.1",
        port=args.port,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"smtp-capture listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
