# The two commands of README.md:  `make demo`  and  `make test`.
.PHONY: setup demo test bench

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/stadsmodel demo --out demo

# ruff first: a lint finding fails in seconds, before the suite's minutes (configuration: pyproject.toml)
test:
	bash scripts/setup.sh --test
	.venv/bin/ruff check .
	.venv/bin/python -m pytest -n 2 --dist loadgroup -q

# make bench [BENCH="etl_build api_load"]: every benchmark (or those named) at a small size, time-limited
bench:
	bash scripts/setup.sh --bench
	.venv/bin/python bench/run.py $(BENCH)
