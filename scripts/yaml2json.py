#!/usr/bin/env python3
"""Convert a YAML document (the OpenAPI spec) to compact JSON.

    python3 scripts/yaml2json.py IN.yaml OUT.json

Used by CMake at build time to embed api-spec/openapi.yaml in the binary
(served at /api/v1/openapi.json). Needs PyYAML (Debian: python3-yaml).

The YAML is read the way a YAML 1.2 reader (e.g. Redocly's) reads it, not
the YAML 1.1 way PyYAML does by default:
  - timestamps stay strings: `2024-02-28` is "2024-02-28", never a date;
  - only true/false are booleans: `yes`, `no`, `on`, `off` stay strings;
  - a key that appears twice in one mapping is an error, not a silent overwrite.
The JSON is UTF-8 (Chinese text is not \\u-escaped), compact, and written
atomically: OUT.json is either the complete new file or left untouched.

Exit status: 0 done, 1 bad input (unreadable, invalid YAML, duplicate key,
value JSON cannot hold), 2 usage error or PyYAML missing.
"""

import datetime
import json
import os
import re
import sys
import tempfile

try:
    import yaml
except ImportError:
    sys.stderr.write(
        "yaml2json: the Python module 'yaml' (PyYAML) is missing; "
        "install it with: apt-get install python3-yaml  (or: pip install PyYAML)\n")
    sys.exit(2)


class SpecLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans, no timestamps, no duplicate keys."""


# Drop the YAML 1.1 implicit resolvers for bool (yes/no/on/off/...) and
# timestamp, then add a YAML 1.2 core-schema bool resolver.
SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))


def _construct_mapping(loader, node, deep=False):
    # Check the keys written in this mapping before `<<` merge keys are
    # expanded: a key that overrides a merged one is not a duplicate.
    seen = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found an unhashable key", key_node.start_mark)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found duplicate key %r (first at line %d)" % (key, seen[key] + 1),
                key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


SpecLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                           _construct_mapping)


def _json_default(value):
    # Explicitly tagged !!timestamp values, if any, still become strings.
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        raise TypeError("binary (!!binary) values cannot be written as JSON")
    if isinstance(value, (set, frozenset)):
        raise TypeError("sets (!!set) cannot be written as JSON")
    raise TypeError("cannot write a %s as JSON" % type(value).__name__)


def _check_keys(value, where="$"):
    """JSON object keys are strings: accept str/int keys (json turns ints into
    strings, e.g. unquoted response codes), refuse anything else."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise ValueError("%s: key %r is not a string" % (where, key))
            _check_keys(item, "%s.%s" % (where, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_keys(item, "%s[%d]" % (where, i))


def convert(src, dst):
    with open(src, encoding="utf-8") as f:
        data = yaml.load(f, Loader=SpecLoader)  # noqa: S506 - SafeLoader subclass
    _check_keys(data)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False, default=_json_default)
    directory = os.path.dirname(os.path.abspath(dst))
    fd, tmp = tempfile.mkstemp(prefix=".yaml2json-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv):
    if len(argv) != 3 or argv[1] in ("-h", "--help"):
        sys.stderr.write("usage: python3 scripts/yaml2json.py IN.yaml OUT.json\n")
        return 2
    src, dst = argv[1], argv[2]
    try:
        convert(src, dst)
    except OSError as e:
        sys.stderr.write("yaml2json: %s\n" % e)
        return 1
    except yaml.YAMLError as e:
        sys.stderr.write("yaml2json: %s: invalid YAML:\n%s\n" % (src, e))
        return 1
    except (TypeError, ValueError) as e:
        sys.stderr.write("yaml2json: %s: %s\n" % (src, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
