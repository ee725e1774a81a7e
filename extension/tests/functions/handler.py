"""Python Lambda handlers run by the real awslambdaric in the end-to-end tests."""

import os
import time


class OrdersUnavailable(Exception):
    """A domain error whose name Lambda reports as errorType."""


def echo(event, context):
    return event


def fail(event, context):
    raise OrdersUnavailable("orders are down")


def big(event, context):
    return {"data": "x" * int(event.get("bytes", 1024))}


def sleep(event, context):
    time.sleep(int(event.get("ms", 100)) / 1000.0)
    return {"request_id": context.aws_request_id, "payload": event}


def env(event, context):
    seen = {"runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API", "")}
    if event.get("endpoints"):
        seen["endpoints"] = {k: v for k, v in os.environ.items()
                             if k.startswith("AWS_ENDPOINT_URL")}
        seen["node_options"] = os.environ.get("NODE_OPTIONS")
        seen["payments_url"] = os.environ.get("PAYMENTS_URL")
    return seen


def flag(event, context):
    """Looks up a flag with the real Failure Flags SDK and reports what it did."""
    from failureflags import FailureFlag

    started = time.monotonic()
    try:
        active, impacted, experiments = FailureFlag(event["flag"], event.get("labels", {})).invoke()
        outcome = {"active": active, "impacted": impacted, "experiments": len(experiments)}
    except Exception as err:  # the injected exception
        outcome = {"active": True, "raised": type(err).__name__, "message": str(err)}
    outcome["elapsed_ms"] = (time.monotonic() - started) * 1000
    return outcome


def outbound(event, context):
    """Calls each URL with urllib, which follows HTTP_PROXY/HTTPS_PROXY (either case) like most
    clients; `cafile` trusts the local HTTPS server's certificate. Each result has the status, the
    body and the Retry-After header, or the error."""
    import ssl
    import urllib.request

    context_tls = ssl.create_default_context(cafile=event.get("cafile"))
    # `url_env` and `paths`: the base URL from that variable (as `deployer enable` left it).
    urls = event.get("urls") or [os.environ[event["url_env"]] + path for path in event["paths"]]
    results = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=10, context=context_tls) as response:
                results.append({"status": response.status, "body": response.read().decode()})
        except urllib.error.HTTPError as err:
            results.append({"status": err.code, "retry_after": err.headers.get("Retry-After")})
        except Exception as err:
            results.append({"error": f"{type(err).__name__}: {err}"})
    return {"results": results}


def batch(event, context):
    """A batch consumer: reports the records listed in `own` as failed itself, or returns
    nothing when there is no such list."""
    if "own" not in event:
        return None
    return {"batchItemFailures": [{"itemIdentifier": i} for i in event["own"]]}


def remaining(event, context):
    """The time the Runtime API's deadline leaves this invocation, as the handler sees it."""
    return {"remaining_ms": context.get_remaining_time_in_millis()}


def dispatch(event, context):
    """One handler for every case: the event's `op` picks the behaviour. An event with a `touch`
    path first creates that file, proof that the handler ran."""
    if isinstance(event, dict) and "touch" in event:
        with open(event["touch"], "w") as marker:
            marker.write("ran")
    op = event.get("op", "echo") if isinstance(event, dict) else "echo"
    return {"echo": echo, "fail": fail, "big": big, "sleep": sleep, "env": env, "flag": flag,
            "outbound": outbound, "aws": aws_calls, "remaining": remaining,
            "batch": batch}[op](
        event, context
    )


def aws_calls(event, context):
    """Runs DynamoDB, SQS, S3 and CloudWatch calls with boto3 (endpoints and proxy from the environment, as
    `deployer enable` would set them) and reports each call's result or error code, its retry
    count and how long it took."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    # In a Config, max_attempts counts retries: three retries, four attempts at most.
    config = Config(retries={"mode": "standard", "max_attempts": 3})
    clients = {name: boto3.client(name, region_name="us-east-1", config=config)
               for name in ("dynamodb", "sqs", "s3", "cloudwatch")}
    results = []
    for step in event["calls"]:
        client = clients[step["service"]]
        started = time.monotonic()
        try:
            answer = getattr(client, step["op"])(**step.get("args", {}))
            answer.pop("ResponseMetadata", None)
            if "Body" in answer:
                answer["Body"] = answer["Body"].read().decode()
            result = {"ok": json_safe(answer)}
        except ClientError as err:
            result = {
                "error": err.response["Error"]["Code"],
                "status": err.response["ResponseMetadata"].get("HTTPStatusCode"),
                "retries": err.response["ResponseMetadata"].get("RetryAttempts"),
            }
        except Exception as err:  # a connection failure, a 502 from faultline's origination
            result = {"failed": f"{type(err).__name__}: {err}"}
        result["ms"] = (time.monotonic() - started) * 1000
        results.append(result)
    return {"results": results}


def json_safe(value):
    """boto3 answers hold datetimes and bytes: made into text for the JSON answer."""
    import json

    return json.loads(json.dumps(value, default=str))
