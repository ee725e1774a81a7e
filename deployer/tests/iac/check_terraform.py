"""Parse every .tf file under a folder with python-hcl2 and check the module conventions.

usage: check_terraform.py DIR

Every variable needs a type and a description, every output a description, and every module
folder main.tf, variables.tf, outputs.tf and versions.tf. Prints a JSON document: the parsed
`locals` of each file, keyed by path, for the tests to compare. Exit 1 with every problem listed.
"""

import json
import os
import sys

import hcl2

MODULE_FILES = {"main.tf", "variables.tf", "outputs.tf", "versions.tf"}


def main():
    root = sys.argv[1]
    problems = []
    parsed = {}
    for folder, _dirs, files in sorted(os.walk(root)):
        tf_files = sorted(f for f in files if f.endswith(".tf"))
        if not tf_files:
            continue
        missing = MODULE_FILES - set(tf_files)
        if missing:
            problems.append(f"{folder}: missing {', '.join(sorted(missing))}")
        for name in tf_files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            try:
                with open(path, encoding="utf-8") as f:
                    doc = hcl2.load(f)
            except Exception as err:  # python-hcl2 raises lark errors of several kinds
                problems.append(f"{rel}: does not parse: {err}")
                continue
            for block in doc.get("variable", []):
                for var_name, body in block.items():
                    for key in ("type", "description"):
                        if key not in body:
                            problems.append(f"{rel}: variable {var_name} has no {key}")
            for block in doc.get("output", []):
                for out_name, body in block.items():
                    if "description" not in body:
                        problems.append(f"{rel}: output {out_name} has no description")
            locals_ = {}
            for block in doc.get("locals", []):
                locals_.update(block)
            if locals_:
                parsed[rel] = {"locals": locals_}
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)
    json.dump(parsed, sys.stdout, indent=2, sort_keys=True, default=str)


if __name__ == "__main__":
    main()
