# The two commands of README.md:  `make demo`  and  `make test`.
.PHONY: setup demo test bench

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/stadsmodel demo --out demo

test:
	bash scripts/setup.sh --test
	.venv/bin/python -m pytest -n 2 --dist loadgroup -q

bench: setup
	.venv/bin/python bench/run.py
