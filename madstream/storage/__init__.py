"""Storage: one fsspec filesystem rooted at a URL, and everything that talks to it.

The file store and its primitives (``store``), bulk publishing (``transfer``), remote file
handles (``remote``), fault classification (``faults``) and retries (``retry``). It knows nothing
of assets, runs or formats; which storage is *current* is decided above it, in ``api.config``.
"""
