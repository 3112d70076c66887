"""Results: the run-directory format and what reads it back (compare, show, studies,
reports, plots). No Keras: these commands start in a fraction of a second.
"""
