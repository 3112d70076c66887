"""``python -m dnn_lab`` runs the command line."""

from dnn_lab.cli import main

main()
