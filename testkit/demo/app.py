"""The demo function: an orders API behind API Gateway. It knows nothing of faultline."""

import json


def handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"orders": [{"id": 1, "item": "coffee"}], "function": context.function_name}),
    }
