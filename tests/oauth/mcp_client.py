"""The official MCP Python SDK's client completing the MCP authorization flow against the
project's OAuth provider (issue 15). Run by origin/tests/it/oauth.rs:

    python mcp_client.py MCP_URL ISSUER USER PASSWORD REDIRECT

The SDK discovers the protected-resource metadata of MCP_URL, the authorization server's
metadata, registers itself (RFC 7591), and sends the person to the authorization endpoint with
PKCE and `resource`; the person's browser is played here (sign-in through the JSON API, the
consent page's form posted), the code handed back to the SDK, which redeems it and calls the
`whoami` tool. Prints one JSON line: the tool's answer and what the flow used.
"""

import asyncio
import json
import re
import sys
from html import unescape
from urllib.parse import parse_qs, urlparse

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

MCP_URL, ISSUER, USER, PASSWORD, REDIRECT = sys.argv[1:6]
seen: dict = {}


class Memory:
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, info):
        self.client = info
        seen["client_id"] = info.client_id


async def browser(authorization_url: str) -> None:
    """Signs the person in, approves the consent page, keeps where it sends the browser."""
    seen["authorization_url"] = authorization_url
    async with httpx2.AsyncClient(follow_redirects=False) as b:
        r = await b.post(
            f"{ISSUER}/api/sso/v1/auth/login",
            json={"identifier": USER, "secret": PASSWORD},
            headers={"origin": ISSUER},
        )
        assert r.status_code == 200, r.text
        r = await b.get(authorization_url)
        if r.status_code == 200:
            form = next(
                f for f in re.findall(r"<form[^>]*>(.*?)</form>", r.text, re.S) if 'value="allow"' in f
            )
            fields = {
                m.group(1): unescape(m.group(2))
                for m in re.finditer(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', form)
            }
            r = await b.post(
                f"{ISSUER}/api/sso/v1/oauth/authorize/consent",
                data=fields,
                headers={"origin": ISSUER, "sec-fetch-site": "same-origin"},
            )
            seen["consent_page"] = True
        assert r.status_code == 302, (r.status_code, r.text)
        seen["callback"] = r.headers["location"]


async def callback() -> AuthorizationCodeResult:
    q = parse_qs(urlparse(seen["callback"]).query)
    return AuthorizationCodeResult(code=q["code"][0], state=q.get("state", [None])[0], iss=q.get("iss", [None])[0])


async def main() -> None:
    auth = OAuthClientProvider(
        server_url=MCP_URL,
        client_metadata=OAuthClientMetadata(
            client_name="MCP conformance client",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=Memory(),
        redirect_handler=browser,
        callback_handler=callback,
    )
    async with httpx2.AsyncClient(auth=auth, timeout=30) as http:
        async with streamable_http_client(MCP_URL, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                result = await session.call_tool("whoami", {})
                seen["whoami"] = result.content[0].text
    q = parse_qs(urlparse(seen["authorization_url"]).query)
    seen["resource"] = q.get("resource", [None])[0]
    seen["code_challenge_method"] = q.get("code_challenge_method", [None])[0]
    print(json.dumps(seen))


asyncio.run(main())
