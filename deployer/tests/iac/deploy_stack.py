"""Create a CloudFormation stack in moto server and print what it made.

usage: deploy_stack.py ENDPOINT STACK TEMPLATE [KEY=VALUE ...] [--upload BUCKET/KEY=PATH ...]

--upload puts a file into S3 first (creating the bucket), for templates that take code from S3.
Prints JSON: the stack status, its outputs and its resources (logical id, type, physical id).
Exit 1 when the stack does not reach CREATE_COMPLETE, with the failure events.
"""

import json
import sys
import time

import boto3


def main():
    endpoint, stack, template_path = sys.argv[1:4]
    params, uploads = [], []
    args = iter(sys.argv[4:])
    for arg in args:
        if arg == "--upload":
            uploads.append(next(args))
        else:
            key, _, value = arg.partition("=")
            params.append({"ParameterKey": key, "ParameterValue": value})
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    s3 = session.client("s3", endpoint_url=endpoint)
    for upload in uploads:
        target, _, path = upload.partition("=")
        bucket, _, key = target.partition("/")
        s3.create_bucket(Bucket=bucket)
        with open(path, "rb") as f:
            s3.put_object(Bucket=bucket, Key=key, Body=f.read())
    cfn = session.client("cloudformation", endpoint_url=endpoint)
    with open(template_path, encoding="utf-8") as f:
        body = f.read()
    cfn.create_stack(
        StackName=stack, TemplateBody=body, Parameters=params, Capabilities=["CAPABILITY_NAMED_IAM"]
    )
    deadline = time.monotonic() + 60
    while True:
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        status = described["StackStatus"]
        if not status.endswith("IN_PROGRESS") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    result = {
        "status": status,
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        "resources": [
            {
                "logical": r.get("LogicalResourceId", ""),
                "type": r.get("ResourceType", ""),
                "physical": r.get("PhysicalResourceId", ""),
            }
            for r in resources
            if r.get("LogicalResourceId")
        ],
    }
    print(json.dumps(result, indent=2, sort_keys=True))
    if status != "CREATE_COMPLETE":
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        for event in events:
            if event.get("ResourceStatusReason"):
                print(f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
