"""A CloudFormation template as JSON; with --transform, a SAM template transformed to
CloudFormation offline by aws-sam-translator.

usage: cfn_json.py TEMPLATE OUT.json [--transform]

Short-form tags (!Ref, !Sub, ...) become their long forms. Managed policy names (AWSLambdaBasicExecutionRole) are resolved from a fixed map instead of
IAM, so nothing leaves the machine. Needs AWS_DEFAULT_REGION.
"""

import json
import sys

import yaml
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform

MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
}


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, ...) as their long forms."""


def _intrinsic(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else "Fn::" + tag_suffix
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _intrinsic)


class FixedPolicies:
    def load(self):
        return MANAGED_POLICIES


def main():
    template_path, out_path = sys.argv[1], sys.argv[2]
    with open(template_path, encoding="utf-8") as f:
        result = yaml.load(f, Loader=CfnLoader)
    if "--transform" in sys.argv[3:]:
        try:
            result = transform(result, {}, FixedPolicies())
        except InvalidDocumentException as err:
            for cause in err.causes:
                print(f"{template_path}: {cause.message}", file=sys.stderr)
            sys.exit(1)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
