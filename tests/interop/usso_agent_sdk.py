"""The official USSO Python SDK (PyPI `usso`, pinned in scripts/install-test-deps.sh) as an
agent, unmodified: `usso.utils.agent.register_agent` with a one-time registration key (the SDK
makes the Ed25519 key), `UssoClient(agent_private_key=…)` without an agent id (`kid` flavour,
the SDK asks `/agents/scopes` for its tenant, then `/agents/auth`) listing users with the token,
`generate_agent_jwt` with the agent id (`iss`), and what must be refused: the same JWT twice,
another audience, the registration key a second time. Prints what it saw as one JSON line; the
Rust test (origin/tests/it/agents.rs) checks it.

    python usso_agent_sdk.py <base url> <registration key>
"""

import base64
import json
import os
import sys

import httpx
from usso.client import UssoClient
from usso.utils.agent import generate_agent_jwt, register_agent


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def main() -> None:
    base, registration_key = sys.argv[1:3]
    os.environ["USSO_BASE_URL"] = base
    out: dict = {}

    reg = register_agent(
        registration_key, name="sdk agent", scopes=["read:usso/users"], base_url=base
    )
    pem = reg.pop("private_key")
    out["registered"] = reg

    client = UssoClient(usso_base_url=base, agent_private_key=pem)
    token = client.use_agent_token(scopes=["read:usso/users"], aud="sso")
    out["token_claims"] = claims(token)
    out["users"] = len(client.get_users({"limit": 5}))

    auth = f"{base}/api/sso/v1/agents/auth"
    jwt = generate_agent_jwt(
        ["read:usso/users", "delete:usso/users"], "sso", agent_id=reg["id"], private_key=pem
    )
    first = httpx.post(auth, headers={"Authorization": f"Bearer {jwt}"})
    out["with_iss"] = {"status": first.status_code, "body": first.json()}
    again = httpx.post(auth, headers={"Authorization": f"Bearer {jwt}"})
    out["replayed"] = again.status_code
    other = generate_agent_jwt([], "another-service", agent_id=reg["id"], private_key=pem)
    out["other_audience"] = httpx.post(
        auth, headers={"Authorization": f"Bearer {other}"}
    ).status_code
    try:
        register_agent(registration_key, name="again", scopes=[], base_url=base)
        out["registration_reused"] = None
    except httpx.HTTPStatusError as e:
        out["registration_reused"] = e.response.status_code

    print(json.dumps(out))


if __name__ == "__main__":
    main()
