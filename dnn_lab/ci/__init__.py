"""CI: smoke runs of every config, gates on metrics and baselines, reports CI systems read.

No Keras here: the smoke runs train in warm worker processes (``dnn_lab.training.smoke``),
or in the CLI's own process when one worker is enough.
"""
