"""`python -m mlm_explorer.train PATH... [options]`: the training job (see job.py, config.py)."""

from mlm_explorer.train.job import main

raise SystemExit(main(watch_parent=True))
