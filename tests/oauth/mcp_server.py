"""A small MCP server protected by the project's OAuth provider (issue 15's MCP check).

Run by origin/tests/it/oauth.rs with the official MCP Python SDK (`mcp`, pinned in tests/.venv):

    python mcp_server.py ISSUER PORT

It serves the MCP endpoint at http://127.0.0.1:PORT/mcp and, through the SDK, its RFC 9728
protected-resource metadata naming ISSUER as the authorization server. Bearer tokens are
verified as RFC 9068 access tokens against the tenant's JWKS (PyJWT), with `aud` = this server
(RFC 8707): a token for the tenant's own APIs is refused here.
"""

import sys

import jwt
import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver.server import MCPServer

ISSUER = sys.argv[1]
PORT = int(sys.argv[2])
RESOURCE = f"http://127.0.0.1:{PORT}/mcp"
JWKS = jwt.PyJWKClient(f"{ISSUER}/.well-known/jwks.json")


class Verifier:
    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            key = JWKS.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["EdDSA"],
                audience=RESOURCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "client_id"]},
            )
        except Exception as e:  # noqa: BLE001 - any failure is "not a valid token"
            print(f"refused token: {e}", file=sys.stderr, flush=True)
            return None
        if jwt.get_unverified_header(token).get("typ") != "at+jwt":
            return None
        return AccessToken(
            token=token,
            client_id=claims["client_id"],
            scopes=(claims.get("scope") or "").split(),
            expires_at=claims["exp"],
            resource=claims["aud"],
            subject=claims["sub"],
        )


server = MCPServer(
    "usso-protected",
    token_verifier=Verifier(),
    auth=AuthSettings(
        issuer_url=ISSUER,
        resource_server_url=RESOURCE,
        required_scopes=["openid"],
        validate_token_resource=True,
    ),
)


@server.tool()
def whoami() -> str:
    """The subject of the access token the call came with."""
    from mcp.server.auth.middleware.auth_context import get_access_token

    token = get_access_token()
    return token.subject if token else "nobody"


if __name__ == "__main__":
    uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=PORT, log_level="warning")
