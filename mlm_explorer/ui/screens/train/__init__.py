"""The Train screen: screen.py (the screen, the job's events), form.py (the options and the job's
command line), live.py (the job panel: status, bar, ETA, stats, loss plot, log)."""

from mlm_explorer.ui.screens.train.screen import TrainScreen

__all__ = ["TrainScreen"]
