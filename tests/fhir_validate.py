#!/usr/bin/env python3
"""Validates FHIR R4 (4.0.1) JSON resources with the `fhir.resources` 5.1.x
models (pip install 'fhir.resources==5.1.1'): required elements, element
types and cardinality, and no unknown elements.

Usage: fhir_validate.py FILE   (FILE holds a JSON array of resources)
Prints one line per resource and exits 1 if any is invalid, 2 if the
validator is not installed."""

import importlib
import json
import sys

try:
    import fhir.resources as fr
except ImportError:
    print("fhir.resources is not installed: pip install 'fhir.resources==5.1.1'", file=sys.stderr)
    sys.exit(2)

if getattr(fr, "__fhir_version__", "") != "4.0.1":
    print(f"fhir.resources {fr.__version__} is not FHIR 4.0.1; install fhir.resources==5.1.1", file=sys.stderr)
    sys.exit(2)

with open(sys.argv[1], encoding="utf-8") as f:
    resources = json.load(f)

failed = 0
for resource in resources:
    kind = resource.get("resourceType", "?")
    try:
        module = importlib.import_module(f"fhir.resources.{kind.lower()}")
        getattr(module, kind)(resource, strict=True)
        print(f"valid   {kind}")
    except Exception as e:  # the models raise FHIRValidationError, or others on bad input
        failed += 1
        print(f"INVALID {kind}: {e}")
sys.exit(1 if failed else 0)
