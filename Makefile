# Madoguchi: the three commands a newcomer needs, and a few more.
.PHONY: setup test lint run render validate bench clean

setup:                ## install everything (system packages, .venv, SIPp, Asterisk runtime)
	scripts/setup.sh

test: setup           ## (set-up first, idempotent) unit and integration tests (starts its own Asterisk, SIPp, databases)
	.venv/bin/pytest

lint:                 ## ruff, mypy and the import-linter contracts (layers, a pure domain)
	.venv/bin/ruff check acd agent_gateway tests benchmarks migrations
	.venv/bin/mypy
	.venv/bin/lint-imports

run: setup            ## (set-up first) Asterisk + controller + agent gateway on 127.0.0.1 (Ctrl-C stops all)
	.venv/bin/acd up

render:               ## render the Asterisk configuration into the state directory only
	.venv/bin/acd render

validate:             ## check ivr_flows/*.yaml
	.venv/bin/acd ivr validate

clean:                ## remove generated files (rendered config, synthesized prompts); secrets,
	rm -rf var/asterisk var/sounds   # recording keys and the SQLite database are kept

bench:                ## the stack beside bare Asterisk; KPI month over 1,000,000 calls; concurrent recorded calls
	MDG_PORT_BASE=$${MDG_PORT_BASE:-15000} .venv/bin/python benchmarks/against_asterisk.py --json var/bench-against-asterisk.json
	.venv/bin/python benchmarks/kpi_month.py --postgres --full
	.venv/bin/python benchmarks/kpi_month.py --sqlite --full
	MDG_PORT_BASE=$${MDG_PORT_BASE:-15000} .venv/bin/python benchmarks/recorded_calls.py
