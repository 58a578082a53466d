"""Run: the lifecycle of one materialization (cache check → extract → stream → write → commit →
record) over a frozen :class:`~madstream.run.plan.RunPlan`, its observers, the live progress
display and the one-line summaries. It returns manifests; it never sees ``DataAsset``."""
