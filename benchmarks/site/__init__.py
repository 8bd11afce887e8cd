"""The report as a small static site: summary, table of papers, a page per paper with its
reviews side by side and each run's transcript (``review-bench report``, ``review-bench view``)."""
