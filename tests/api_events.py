"""API Gateway (REST, proxy) events as the B2B Lambda receives them, for tests that call the handler."""

from __future__ import annotations

from typing import Any


def b2b_get_event(path: str, query: dict[str, str], api_key: str) -> dict[str, Any]:
    """A GET through the API key-protected B2B stage, shaped like API Gateway's proxy event."""
    return {"resource": path, "path": path, "httpMethod": "GET", "headers": {"x-api-key": api_key},
            "multiValueHeaders": {}, "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
            "pathParameters": None, "body": None, "isBase64Encoded": False,
            "requestContext": {"resourcePath": path, "httpMethod": "GET", "path": path, "stage": "test",
                               "requestId": "r", "identity": {"apiKey": api_key, "apiKeyId": None}}}
