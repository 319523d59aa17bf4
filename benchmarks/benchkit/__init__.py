"""What every benchmark shares: the machine it ran on, the results file it writes, the clock
it times with (wall, thread CPU or CUDA events), the device options, and the FLOPs arithmetic.

`goals.py` and `machine.py` are torch-free, so `render_readme.py` and the test that ties the
README to `benchmarks/results/` stay fast; the others import torch when they are used.
"""
