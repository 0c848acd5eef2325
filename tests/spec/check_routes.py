#!/usr/bin/env python3
"""Keep the server's route table and the OpenAPI spec equal.

    python3 tests/spec/check_routes.py SPEC.yaml ROUTES_FILE
    python3 tests/spec/check_routes.py --self-test SPEC.yaml

ROUTES_FILE is the output of `rectify routes`: one route per line,
`METHOD /path/{param}` (e.g. `GET /api/v1/orgs/{id}`). Further columns on a
line are ignored, as are blank lines and lines starting with `#`. `OPTIONS`
lines are skipped: CORS preflight is answered by the server for every path and
is deliberately not described as operations in the spec.

Checks, all reported before exiting:
  1. the (METHOD, path) pairs of the routes and of the spec are the same set;
     paths are compared literally, so path parameter names must match too;
  2. every operation in the spec has an operationId, camelCase and unique;
  3. every operation has a 4xx (`4NN` or `4XX`) or `default` response;
  4. every `{param}` in a path template is declared as an `in: path`
     parameter (path item or operation level, `$ref`s to
     #/components/parameters followed), declared path parameters appear in the
     template, and are `required: true`.

Exit status: 0 when all hold ("route table and spec agree (N operations)"),
1 when something differs, 2 on usage errors or unreadable input.
"""

import os
import re
import sys
import tempfile

try:
    import yaml
except ImportError:
    sys.stderr.write("check_routes: the Python module 'yaml' (PyYAML) is missing; "
                     "install it with: apt-get install python3-yaml\n")
    sys.exit(2)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SKIPPED_ROUTE_METHODS = {"OPTIONS"}
TEMPLATE_PARAM = re.compile(r"\{([^{}/]+)\}")
CAMEL_CASE = re.compile(r"^[a-z][a-zA-Z0-9]*$")
ERROR_RESPONSE = re.compile(r"^(4[0-9]{2}|4XX|default)$", re.IGNORECASE)


class InputError(Exception):
    """Unreadable or malformed input: exit 2."""


def load_spec(path):
    try:
        with open(path, encoding="utf-8") as f:
            spec = yaml.safe_load(f)
    except OSError as e:
        raise InputError("cannot read spec: %s" % e)
    except yaml.YAMLError as e:
        raise InputError("%s: invalid YAML:\n%s" % (path, e))
    if not isinstance(spec, dict) or not isinstance(spec.get("paths"), dict):
        raise InputError("%s: not an OpenAPI document (no `paths` mapping)" % path)
    return spec


def resolve(spec, node):
    """Follow local `$ref`s ("#/a/b/c") until a non-reference node."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/") or ref in seen:
            raise InputError("unsupported or circular $ref %r" % (ref,))
        seen.add(ref)
        node = spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise InputError("unresolvable $ref %r" % ref)
            node = node[part]
    return node


def spec_operations(spec):
    """Yield (METHOD, path, operation, path_item) for every operation."""
    for path, item in spec["paths"].items():
        item = resolve(spec, item)
        if not isinstance(item, dict):
            continue
        for key, op in item.items():
            # Skip `parameters`, `summary`, `description`, `servers`, `x-...`.
            if key.lower() in HTTP_METHODS and isinstance(op, dict):
                yield key.upper(), str(path), op, item


def read_routes(path):
    """Return ({(METHOD, path): line_no}, [problems], skipped_count)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InputError("cannot read routes: %s" % e)
    routes, problems, skipped = {}, [], 0
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.split()
        if len(fields) < 2 or not fields[1].startswith("/") or not fields[0].isalpha():
            problems.append("%s:%d: not `METHOD /path`: %r" % (path, n, line))
            continue
        key = (fields[0].upper(), fields[1])
        if key[0] in SKIPPED_ROUTE_METHODS:
            skipped += 1
            continue
        if key in routes:
            problems.append("%s:%d: duplicate route %s %s (first on line %d)"
                            % (path, n, key[0], key[1], routes[key]))
            continue
        routes[key] = n
    return routes, problems, skipped


def path_params(spec, params, where, problems):
    """Names of the `in: path` parameters in a parameter list."""
    names = {}
    if params is None:
        return names
    if not isinstance(params, list):
        problems.append("%s: `parameters` is not a list" % where)
        return names
    for p in params:
        p = resolve(spec, p)
        if not isinstance(p, dict):
            problems.append("%s: a parameter is not an object" % where)
            continue
        if p.get("in") == "path":
            names[p.get("name")] = p
    return names


def check_spec(spec):
    """Per-operation checks 2-4. Returns a list of problems."""
    problems = []
    op_ids = {}
    for method, path, op, item in spec_operations(spec):
        where = "%s %s" % (method, path)

        op_id = op.get("operationId")
        if not op_id:
            problems.append("%s: no operationId" % where)
        elif not isinstance(op_id, str) or not CAMEL_CASE.match(op_id):
            problems.append("%s: operationId %r is not camelCase" % (where, op_id))
        elif op_id in op_ids:
            problems.append("%s: operationId %r already used by %s" % (where, op_id, op_ids[op_id]))
        else:
            op_ids[op_id] = where

        responses = op.get("responses")
        if not isinstance(responses, dict) or not responses:
            problems.append("%s: no responses" % where)
        elif not any(ERROR_RESPONSE.match(str(code)) for code in responses):
            problems.append("%s: no 4xx or default response" % where)

        template = TEMPLATE_PARAM.findall(path)
        if len(set(template)) != len(template):
            problems.append("%s: a path parameter appears twice in the template" % where)
        declared = path_params(spec, item.get("parameters"), where, problems)
        declared.update(path_params(spec, op.get("parameters"), where, problems))
        for name in template:
            if name not in declared:
                problems.append("%s: path parameter {%s} is not declared in parameters" % (where, name))
        for name, p in declared.items():
            if name not in template:
                problems.append("%s: path parameter %r is declared but not in the path" % (where, name))
            elif p.get("required") is not True:
                problems.append("%s: path parameter %r must be `required: true`" % (where, name))
    return problems


def shape(path):
    """The path with parameter names erased, to spot renamed parameters."""
    return TEMPLATE_PARAM.sub("{}", path)


def compare(spec_ops, routes):
    """Check 1. Returns a list of problems."""
    problems = []
    only_routes = sorted(set(routes) - set(spec_ops), key=lambda k: (k[1], k[0]))
    only_spec = sorted(set(spec_ops) - set(routes), key=lambda k: (k[1], k[0]))
    # Pair up the same route with differently named parameters.
    renamed = []
    for r in list(only_routes):
        for s in only_spec:
            if r[0] == s[0] and shape(r[1]) == shape(s[1]):
                renamed.append((r, s))
                only_routes.remove(r)
                only_spec.remove(s)
                break
    for r, s in renamed:
        problems.append("path parameter names differ: routes have %s %s, spec has %s %s"
                        % (r[0], r[1], s[0], s[1]))
    for m, p in only_routes:
        problems.append("in routes, not in spec: %s %s" % (m, p))
    for m, p in only_spec:
        problems.append("in spec, not in routes: %s %s (%s)"
                        % (m, p, spec_ops[(m, p)].get("operationId", "no operationId")))
    return problems


def run(spec_path, routes_path, out=sys.stdout):
    """Run every check; print the findings; return the exit status."""
    try:
        spec = load_spec(spec_path)
        routes, problems, skipped = read_routes(routes_path)
        spec_ops = {(m, p): op for m, p, op, _ in spec_operations(spec)}
        problems += compare(spec_ops, routes)
        problems += check_spec(spec)
    except InputError as e:
        out.write("check_routes: %s\n" % e)
        return 2
    for problem in problems:
        out.write(problem + "\n")
    if problems:
        out.write("route table and spec differ (%d problem%s)\n"
                  % (len(problems), "" if len(problems) == 1 else "s"))
        return 1
    note = " (%d OPTIONS route%s skipped)" % (skipped, "" if skipped == 1 else "s") if skipped else ""
    out.write("route table and spec agree (%d operations)%s\n" % (len(spec_ops), note))
    return 0


# ---------------------------------------------------------------- self-test

def self_test(spec_path):
    """Run the checker against handmade route files and broken copies of the
    spec; every case must give the expected exit status and message."""
    import io

    spec = load_spec(spec_path)
    ops = sorted((m, p) for m, p, _, _ in spec_operations(spec))
    if not ops:
        raise InputError("the spec has no operations")
    tmp = tempfile.mkdtemp(prefix="check_routes-")
    failures = 0

    def write(name, text):
        path = os.path.join(tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def case(title, routes_text, expect_rc, expect_text, spec_file=spec_path):
        nonlocal failures
        buf = io.StringIO()
        rc = run(spec_file, write("routes.txt", routes_text), out=buf)
        ok = rc == expect_rc and expect_text in buf.getvalue()
        print("%s %s" % ("ok  " if ok else "FAIL", title))
        if not ok:
            failures += 1
            print("     expected rc %d and %r; got rc %d:\n%s"
                  % (expect_rc, expect_text, rc, buf.getvalue()))

    lines = ["%s %s" % op for op in ops]
    good = "\n".join(["# rectify routes", ""] + lines) + "\n"
    param_op = next(((m, p) for m, p in ops if "{" in p), None)

    case("all routes", good, 0, "route table and spec agree (%d operations)" % len(ops))
    case("lower-case methods, extra columns, OPTIONS skipped",
         "\n".join("%s %s perm:x" % (m.lower(), p) for m, p in ops) + "\nOPTIONS /api/v1/orgs\n",
         0, "(1 OPTIONS route skipped)")
    case("route missing", "\n".join(lines[1:]) + "\n", 1,
         "in spec, not in routes: %s %s" % ops[0])
    case("route extra", good + "DELETE /api/v1/nothing/{id}\n", 1,
         "in routes, not in spec: DELETE /api/v1/nothing/{id}")
    case("duplicate route", good + lines[0] + "\n", 1, "duplicate route")
    case("malformed line", good + "GET\n", 1, "not `METHOD /path`")
    if param_op:
        renamed = TEMPLATE_PARAM.sub("{renamed_param}", param_op[1], count=1)
        case("path parameter renamed",
             good.replace("%s %s\n" % param_op, "%s %s\n" % (param_op[0], renamed)), 1,
             "path parameter names differ")
    buf = io.StringIO()
    rc = run(spec_path, os.path.join(tmp, "no-such-routes.txt"), out=buf)
    ok = rc == 2 and "cannot read routes" in buf.getvalue()
    print("%s unreadable routes file" % ("ok  " if ok else "FAIL"))
    failures += 0 if ok else 1

    # Broken specs: a minimal document exercising checks 2-4.
    broken = write("broken.yaml", """
openapi: 3.1.0
info: {title: t, version: '1'}
components:
  parameters:
    Id: {name: id, in: path, required: true, schema: {type: integer}}
paths:
  /a/{id}:
    parameters: [{$ref: '#/components/parameters/Id'}]
    summary: ignored
    get:
      responses: {'200': {description: x}, '404': {description: x}}
    put:
      operationId: put_a
      responses: {'200': {description: x}, default: {description: x}}
  /b/{id}/c/{cid}:
    get:
      operationId: getB
      parameters: [{name: id, in: path, required: true}, {name: other, in: path, required: true}]
      responses: {'200': {description: x}}
    post:
      operationId: getB
      parameters: [{name: id, in: path}, {name: cid, in: path, required: true}]
      responses: {'201': {description: x}, 4XX: {description: x}}
""")
    broken_routes = "GET /a/{id}\nPUT /a/{id}\nGET /b/{id}/c/{cid}\nPOST /b/{id}/c/{cid}\n"
    for title, text in [
            ("missing operationId", "GET /a/{id}: no operationId"),
            ("operationId not camelCase", "operationId 'put_a' is not camelCase"),
            ("no 4xx or default response", "GET /b/{id}/c/{cid}: no 4xx or default response"),
            ("undeclared path parameter", "path parameter {cid} is not declared"),
            ("declared parameter not in path", "path parameter 'other' is declared but not in the path"),
            ("path parameter not required", "path parameter 'id' must be `required: true`"),
            ("duplicate operationId", "operationId 'getB' already used by GET /b/{id}/c/{cid}")]:
        case("broken spec: " + title, broken_routes, 1, text, spec_file=broken)
    buf = io.StringIO()
    run(broken, write("routes.txt", broken_routes), out=buf)
    ok = "/a/{id}: path parameter" not in buf.getvalue()
    print("%s broken spec: path-level parameter via $ref is accepted" % ("ok  " if ok else "FAIL"))
    failures += 0 if ok else 1

    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    print("self-test: %s" % ("passed" if not failures else "%d case(s) FAILED" % failures))
    return 1 if failures else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--self-test":
        try:
            return self_test(argv[2])
        except InputError as e:
            sys.stderr.write("check_routes: %s\n" % e)
            return 2
    if len(argv) != 3 or argv[1].startswith("-"):
        sys.stderr.write("usage: python3 tests/spec/check_routes.py SPEC.yaml ROUTES_FILE\n"
                         "       python3 tests/spec/check_routes.py --self-test SPEC.yaml\n")
        return 2
    return run(argv[1], argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
