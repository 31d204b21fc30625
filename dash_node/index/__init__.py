"""Per-replica search indexes: HNSW vectors (usearch) and BM25 text (in memory, numpy), both keyed by engine
docnos."""
