"""moto server as the tests start it: S3's conditional writes atomic, and IAM policies enforced
for requests signed by any SDK.

S3 documents conditional writes (`If-Match`, `If-None-Match`) as atomic: of two writers holding
the same ETag, one succeeds and the other gets 412. moto 5.2.5 compares the ETag and then writes,
with no lock between, so under load both can succeed and one edit is lost. This launcher makes
each object write one step (a lock around PutObject), as S3 does.

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

moto 5.2.5's Account API has the alternate contacts only. `deployer --regions all-enabled` asks
it which Regions an account has enabled (ListRegions), so this launcher adds ListRegions and
EnableRegion as the Account API reference documents them: the partition's Regions, those launched
before 20 March 2019 ENABLED_BY_DEFAULT, the later ones (opt-in Regions) DISABLED until
EnableRegion, per account. Two simplifications: EnableRegion makes a Region ENABLED at once
(AWS passes through ENABLING for minutes), and the AccountId parameter (a management account
asking for a member) is not honoured.

Usage: python moto_server.py [moto_server arguments]
"""

import sys
import threading

import boto3
from moto.account import urls as account_urls
from moto.account.responses import AccountResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.iam import access_control
from moto.s3.responses import S3Response
from moto.server import main

_object_writes = threading.Lock()
_put_object = S3Response.put_object


def _atomic_put_object(self):
    with _object_writes:
        return _put_object(self)


S3Response.put_object = _atomic_put_object


def _signature_not_compared(self):
    return None


access_control.IAMRequestBase.check_signature = _signature_not_compared

# The opt-in Regions: launched after 20 March 2019, disabled until an account enables them.
_OPT_IN = {
    "af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2",
    "eu-south-1", "eu-south-2", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
}
_REGIONS = sorted(boto3.session.Session().get_available_regions("ec2"))
# Account id -> the opt-in Regions it enabled.
_enabled = {}


def _opt_status(account, region):
    if region not in _OPT_IN:
        return "ENABLED_BY_DEFAULT"
    return "ENABLED" if region in _enabled.get(account, set()) else "DISABLED"


def _list_regions(self):
    wanted = self._get_param("RegionOptStatusContains") or []
    regions = [
        {"RegionName": name, "RegionOptStatus": _opt_status(self.current_account, name)}
        for name in _REGIONS
    ]
    regions = [r for r in regions if not wanted or r["RegionOptStatus"] in wanted]
    start = int(self._get_param("NextToken") or 0)
    size = int(self._get_param("MaxResults") or 20)
    result = {"Regions": regions[start : start + size]}
    if start + size < len(regions):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


def _enable_region(self):
    _enabled.setdefault(self.current_account, set()).add(self._get_param("RegionName"))
    return EmptyResult()


AccountResponse.list_regions = _list_regions
AccountResponse.enable_region = _enable_region
account_urls.url_paths["{0}/listRegions$"] = AccountResponse.dispatch
account_urls.url_paths["{0}/enableRegion$"] = AccountResponse.dispatch

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
