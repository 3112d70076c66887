"""The run-directory format: file names, typed records, atomic writes, reading runs back and
finding them. The lowest layer of results: training and sweeps write through it, everything
else reads through it. No Keras, no matplotlib.
"""
