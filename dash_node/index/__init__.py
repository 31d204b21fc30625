"""Per-replica search indexes: HNSW vectors (usearch) and BM25 text (tantivy), both keyed by engine docnos."""
