"""Coverage of a Parquet lake written by target-parquet: which days each service has.

`target-parquet-coverage` (cli.py) reads the lake (lake.py), decides each day's status
(finality.py, model.py) and prints the gaps (table.py) or writes an HTML page (page.py).
Importing this package reads nothing.
"""
