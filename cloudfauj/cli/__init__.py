"""The `cloudfauj` command line: a client of the HTTP API (plus `server` and `sandbox`, run locally).

main.py      the typer app, error → exit code handling, main()
client.py    the HTTP client; HTTP failures become exceptions
follow.py    following records to their end (server-sent events, polling as the fallback)
output.py    tables / JSON / YAML on stdout, progress on stderr
commands/    the commands
"""
