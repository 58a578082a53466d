"""Stream: whatever an extract function produced → normalized Arrow pages, through a bounded
channel to a writer callback, with one thread per stage.

A sibling of ``write``: neither imports the other; the run layer joins them.
"""
