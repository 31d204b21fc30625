"""DASH client side: generated stubs (``dash_client._pb``), wire formats and the ``dash`` CLI."""
