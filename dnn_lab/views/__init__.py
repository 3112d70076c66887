"""What ``compare`` and ``show`` put on the screen: runs side by side, one run in detail."""
