"""`dash bench`: reproducible performance figures for DASH on this machine (the command: ``cli.py``).

The package itself imports nothing, so the floor's processes (``python -m cluster.bench.floor``) start
without loading the benchmark runner.
"""
