"""An AWS organisation in moto server for the StackSet tests, or what StackSets made of it.

usage: organization.py ENDPOINT create OU_NAME ACCOUNTS
       organization.py ENDPOINT instances STACK_SET
       organization.py ENDPOINT upload BUCKET KEY=PATH ...

create: an organisation (if none), an organisational unit under its root and ACCOUNTS member
accounts moved into it; prints JSON {"root", "ou", "accounts"}.
instances: the StackSet's instances, as JSON [{"account", "region", "status"}].
upload: files into a bucket (created if needed), as a layer bucket of the organisation.
"""

import json
import sys

import boto3


def main():
    endpoint, action, arg = sys.argv[1:4]
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    if action == "create":
        org = session.client("organizations", endpoint_url=endpoint)
        try:
            org.create_organization(FeatureSet="ALL")
        except org.exceptions.AlreadyInOrganizationException:
            pass
        root = org.list_roots()["Roots"][0]["Id"]
        ou = org.create_organizational_unit(ParentId=root, Name=arg)["OrganizationalUnit"]["Id"]
        accounts = []
        for i in range(int(sys.argv[4])):
            status = org.create_account(
                Email=f"member{i}@{arg}.example.com", AccountName=f"{arg}-{i}"
            )["CreateAccountStatus"]
            account = status["AccountId"]
            org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
            accounts.append(account)
        print(json.dumps({"root": root, "ou": ou, "accounts": accounts}))
    elif action == "instances":
        cfn = session.client("cloudformation", endpoint_url=endpoint)
        summaries = cfn.list_stack_instances(StackSetName=arg)["Summaries"]
        print(
            json.dumps(
                [
                    {"account": s["Account"], "region": s["Region"], "status": s["Status"]}
                    for s in summaries
                ]
            )
        )
    elif action == "upload":
        s3 = session.client("s3", endpoint_url=endpoint)
        try:
            s3.create_bucket(Bucket=arg)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        for upload in sys.argv[4:]:
            key, _, path = upload.partition("=")
            with open(path, "rb") as body:
                s3.put_object(Bucket=arg, Key=key, Body=body.read())
        print("{}")
    else:
        sys.exit(f"unknown action {action}")


if __name__ == "__main__":
    main()
