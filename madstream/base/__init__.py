"""The ground floor: madstream's exception tree and the type aliases every layer shares.

Nothing here imports another part of madstream.
"""
