"""Parses Prometheus text exposition (standard input) with the reference
Python client's parser and prints it as JSON: {family: {type, samples}}.
Used by metrics.test.mjs; a parse error exits non-zero with the reason."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

families = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = {
        "type": family.type,
        "help": family.documentation,
        "samples": [
            {"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples
        ],
    }
json.dump(families, sys.stdout)
