#!/usr/bin/env python3
"""Loads the demo accountability leads (sql/seed/demo_clues.json) through the
API of a running service, so that the persons' data is sealed by the service
as in real use. Called by scripts/seed-demo (which starts a private service
for it); standard library only.

    demo_clues.py BASE_URL CAMPAIGN_ID SEED_JSON

Logs in as the demo accounts `office` and `discipline` (password
RECTIFY_DEMO_PASSWORD). Exits non-zero on the first unexpected answer."""
import json
import os
import sys
import urllib.error
import urllib.request

BASE, CAMPAIGN, SEED = sys.argv[1], int(sys.argv[2]), sys.argv[3]
PASSWORD = os.environ.get("RECTIFY_DEMO_PASSWORD", "Demo-Passw0rd-2026")


def call(method, path, body=None, token=None, version=None):
    req = urllib.request.Request(BASE + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if version is not None:
        req.add_header("If-Match", '"%d"' % version)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        sys.exit("demo clues: %s %s answered %d: %s" % (method, path, e.code, e.read()[:300]))


def login(user):
    return call("POST", "/api/v1/auth/token", {"username": user, "password": PASSWORD})["access_token"]


def ids(kind, token):
    page = call("GET", "/api/v1/%s?campaign=%d&limit=500" % (kind, CAMPAIGN), token=token)
    return {x["code"]: x["id"] for x in page["items"]}


def main():
    office, cdi = login("office"), login("discipline")
    problems, tasks = ids("problems", office), ids("tasks", office)
    with open(SEED, encoding="utf-8") as f:
        seed = json.load(f)["clues"]
    for d in seed:
        body = {k: v for k, v in d["create"].items() if k not in ("problems", "tasks")}
        body.update(campaign_id=CAMPAIGN, problem_ids=[problems[c] for c in d["create"].get("problems", [])],
                    task_ids=[tasks[c] for c in d["create"].get("tasks", [])])
        c = call("POST", "/api/v1/clues", body, office)
        path = "/api/v1/clues/%d" % c["id"]
        for action, who in (("transfer", office), ("receive", cdi), ("investigate", cdi)):
            if action in d:
                c = call("POST", path + "/transitions", dict(d[action], action=action), who, c["version"])
        for person, (outcome, detail, on) in zip(c["persons"], d.get("outcomes", [])):
            change = {"outcome": outcome, "outcome_on": on}
            if detail:
                change["outcome_detail"] = detail
            c = call("PATCH", "%s/persons/%d" % (path, person["id"]), change, cdi, c["version"])
        if "conclude" in d:
            c = call("POST", path + "/transitions", dict(d["conclude"], action="conclude"), cdi, c["version"])
        if "publish" in d:
            pub = {"public_summary": d["publish"]["public_summary"],
                   "named_person_ids": [c["persons"][i]["id"] for i in d["publish"]["named"]]}
            c = call("PUT", path + "/publication", pub, office, c["version"])
    print("demo clues: loaded %d leads" % len(seed), file=sys.stderr)


if __name__ == "__main__":
    main()
