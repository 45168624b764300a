# Madoguchi: the three commands a newcomer needs, and a few more.
.PHONY: setup test run render validate bench clean

setup:                ## install everything (system packages, .venv, SIPp, Asterisk runtime)
	scripts/setup.sh

test:                 ## unit and integration tests (starts its own Asterisk, SIPp, databases)
	.venv/bin/pytest

run:                  ## Asterisk + controller + agent gateway on 127.0.0.1 (Ctrl-C stops all)
	.venv/bin/acd up

render:               ## render the Asterisk configuration into the state directory only
	.venv/bin/acd render

validate:             ## check ivr_flows/*.yaml
	.venv/bin/acd ivr validate

clean:                ## remove generated files (rendered config, synthesized prompts); secrets,
	rm -rf var/asterisk var/sounds   # recording keys and the SQLite database are kept

bench:                ## monthly KPI report over 1,000,000 synthetic calls, PostgreSQL and SQLite
	.venv/bin/python benchmarks/kpi_month.py --postgres --full
	.venv/bin/python benchmarks/kpi_month.py --sqlite --full
