"""The official USSO Python SDK (PyPI `usso`, pinned in scripts/install-test-deps.sh) against
the origin's administration API, unmodified: the SDK refreshes with the given refresh token,
then calls `create_users`, `get_users`, `add_identifier` and `get_profile`, validating the
answers with its own pydantic models. Prints what it saw as one JSON line; the Rust test
(origin/tests/it/admin_api.rs) checks it.

    python usso_sdk.py <base url> <refresh token of an administrator> <email> <phone>
"""

import json
import sys

import httpx
from usso.client import UssoClient
from usso.enums import AuthIdentifier


def main() -> None:
    base, refresh, email, phone = sys.argv[1:5]
    client = UssoClient(usso_base_url=base, refresh_token=refresh, api_key=None)
    out: dict = {}

    created = client.create_users(
        {"identifier": email, "secret": "sdk user password 1", "name": "SDK User"}
    )
    out["created"] = created.model_dump(mode="json")

    listed = client.get_users({"q": email.split("@")[0], "limit": 10})
    out["listed"] = [u.model_dump(mode="json") for u in listed]

    out["identifier"] = client.add_identifier(created.uid, AuthIdentifier.PHONE, phone)
    out["profile"] = client.get_profile(created.uid)

    try:
        client.create_users({"identifier": email})
        out["duplicate"] = None
    except httpx.HTTPStatusError as e:
        out["duplicate"] = {"status": e.response.status_code, "body": e.response.json()}

    print(json.dumps(out))


if __name__ == "__main__":
    main()
