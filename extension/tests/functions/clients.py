"""HTTP clients the dependency-proxy tests drive through HTTP_PROXY/HTTPS_PROXY.

Usage: clients.py urllib URL | requests URL [CAFILE] | boto3 ENDPOINT
Prints one JSON line: {"status", "body"} or {"error"} with the exception's class and text.
"""

import json
import sys
import time


def use_urllib(url):
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return {"status": response.status, "body": response.read().decode()}
    except urllib.error.HTTPError as err:
        return {"status": err.code, "body": err.read().decode()}


def use_requests(url, cafile=None):
    import requests

    response = requests.get(url, timeout=10, verify=cafile if cafile else True)
    return {"status": response.status_code, "body": response.text}


def use_boto3(endpoint):
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )
    started = time.monotonic()
    names = [s["Name"] for s in client.list_secrets()["SecretList"]]
    return {"status": 200, "body": json.dumps(names), "elapsed_ms": (time.monotonic() - started) * 1000}


def main():
    kind, target = sys.argv[1], sys.argv[2]
    try:
        if kind == "urllib":
            result = use_urllib(target)
        elif kind == "requests":
            result = use_requests(target, sys.argv[3] if len(sys.argv) > 3 else None)
        else:
            result = use_boto3(target)
    except Exception as err:
        result = {"error": f"{type(err).__name__}: {err}"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
