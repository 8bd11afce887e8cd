"""Benchmarks from OpenReview venues: ``venues`` (the registry and rating scales), ``api_v1`` and
``api_v2`` (the sources, through openreview-py), ``records`` (a submission with its reviews and
decision), ``download`` (what is fetched per paper), ``splits`` and ``dataset_writer`` (the files)."""
