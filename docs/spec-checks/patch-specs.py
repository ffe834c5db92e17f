"""Derived copies of the vendor descriptions used by docs/spec-checks.md (run in the spec dir).

The vendor files are not committed; this only rewrites local copies:
  openai.examples.json        the x-oaiMeta response examples of /models, /organization/costs and
                              /organization/usage/completions set as OpenAPI `example`s (trailing
                              comma in the /models example removed) so Prism serves them.
  jira-platform.decoded.json  Atlassian's `example`s are JSON *strings*; decoded into objects.
  jira-software.decoded.json  same, plus basicAuth added to GET /rest/agile/1.0/board/{id}/sprint
                              (the 2022 file lists only OAuth2 for it; Jira Cloud takes basic auth).
  jira-software.lastpage.json the sprint example with isLast=true, startAt=0 and its first sprint
                              made active on board 5, so a static mock ends the pagination.
"""
import json
import re

import yaml


def decode_examples(o):
    if isinstance(o, dict):
        for k, v in list(o.items()):
            if k == "example" and isinstance(v, str) and v.strip()[:1] in "{[":
                try:
                    o[k] = json.loads(v)
                    continue
                except ValueError:
                    pass
            decode_examples(v)
    elif isinstance(o, list):
        for v in o:
            decode_examples(v)


d = yaml.safe_load(open("openai.yaml"))
for p in ["/organization/costs", "/organization/usage/completions", "/models"]:
    op = d["paths"][p]["get"]
    ex = op["x-oaiMeta"]["examples"]
    text = ex["response"] if isinstance(ex, dict) else ex[0]["response"]
    example = json.loads(re.sub(r",(\s*[\]}])", r"\1", text))
    op["responses"]["200"]["content"]["application/json"]["example"] = example
json.dump(d, open("openai.examples.json", "w"), default=str)

p = json.load(open("jira-platform.json"))
decode_examples(p)
json.dump(p, open("jira-platform.decoded.json", "w"))

s = json.load(open("jira-software.json"))
decode_examples(s)
sprint = s["paths"]["/rest/agile/1.0/board/{boardId}/sprint"]["get"]
sprint["security"] = [{"basicAuth": []}] + sprint["security"]
json.dump(s, open("jira-software.decoded.json", "w"))
ex = sprint["responses"]["200"]["content"]["application/json"]["example"]
ex.update(isLast=True, startAt=0)
ex["values"][0].update(state="active", originBoardId=5)
json.dump(s, open("jira-software.lastpage.json", "w"))
