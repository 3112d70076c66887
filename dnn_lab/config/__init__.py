"""The config: schema, safe YAML loading, --set overrides and the Keras names it may use.

Nothing here imports Keras: a config is checked before any framework loads.
"""
