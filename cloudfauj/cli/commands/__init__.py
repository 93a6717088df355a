"""The CLI's commands, one module per family; `register(app)` adds each family to the root app.

apply.py      apply, deploy, delete: change desired state and wait for it
get.py        get, describe, logs: read state
describe.py   describe's layout
upstream.py   upstream's env/app/deployment/domain commands, as aliases
local.py      server, sandbox serve|push, version
tokens.py     token create|list|revoke
common.py     shared options, kind names, waiting on records, exit codes
"""
