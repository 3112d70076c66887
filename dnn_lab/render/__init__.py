"""How a value, a table or a curve is drawn: one number formatter, one table value (terminal,
markdown, CSV, JSON), matplotlib curves, and training's terminal output. Knows the run format,
nothing of analysis. No Keras; matplotlib only when a plot is drawn.
"""
