"""moto server enforcing IAM policies for requests signed by any SDK.

Once IAM is enforced (INITIAL_NO_AUTH_ACTION_COUNT), moto 5.2.5 recomputes each request's SigV4
signature from its own reconstruction of the request, which differs from what was signed in two
cases the deployer's tests meet, whoever signs (boto3 too):
- a request with neither query string nor body (every Lambda GET: GetFunction, ListFunctions,
  ListLayerVersions, ...): moto hashes a copy of the headers as the payload;
- a form-encoded body (IAM, CloudWatch): moto re-encodes the parsed form with botocore's rules,
  so a body the Rust SDK encoded differently (`*`, spaces, ...) hashes differently.
Each such request fails with SignatureDoesNotMatch. This launcher skips only that comparison.
The access key still has to belong to an IAM user (the caller is identified by it), and every
action is still judged against that user's policies, which is what the tests check.

Usage: python moto_server.py [moto_server arguments]
"""

import sys

from moto.iam import access_control
from moto.server import main


def _signature_not_compared(self):
    return None


access_control.IAMRequestBase.check_signature = _signature_not_compared

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
