"""The official USSO Python SDK (PyPI `usso`, pinned in scripts/install-test-deps.sh) with an API
key, unmodified: `usso.api_key.fetch_api_key_data` (the `apikeys/verify` route, answered by the
edge core), `UssoClient(api_key=…)` listing users with the key in `x-api-key`, and the client's
scope lookup. A wrong key must raise the SDK's own exception. Prints what it saw as one JSON line;
the Rust test (origin/tests/it/api_keys.rs) checks it.

    python usso_apikey_sdk.py <base url> <api key> <a wrong key>
"""

import json
import sys

from usso.api_key import fetch_api_key_data
from usso.client import UssoClient
from usso.exceptions import USSOException


def main() -> None:
    base, key, wrong = sys.argv[1:4]
    verify = f"{base}/api/sso/v1/apikeys/verify"
    out: dict = {}

    data = fetch_api_key_data(verify, key)
    out["user_data"] = data.model_dump(mode="json")
    out["claims"] = data.claims

    client = UssoClient(usso_base_url=base, api_key=key)
    out["users"] = [u.model_dump(mode="json")["uid"] for u in client.get_users({"limit": 5})]
    out["scopes"] = client._get_scopes()

    try:
        fetch_api_key_data(verify, wrong)
        out["wrong"] = None
    except USSOException as e:
        out["wrong"] = {"status": e.status_code, "error": e.error_code, "message": e.message}

    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
