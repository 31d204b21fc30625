"""Evidence reasoning: deciding how a new claim relates to the claims already stored near it.

For each new claim DASH compares it with nearby claims of the same tenant and writes detector edges
(``contradicts``, ``supersedes``, ``duplicates``, ``supports``, ``refines``) with a strength and reason
codes naming the rule that fired. :mod:`dash_node.evidence.judge` holds the pluggable judge interface
and the default deterministic rule judge (no model, ingest speed); :mod:`dash_node.evidence.text` holds
the text normalisation, tokenisation and alignment it is built on.
"""
