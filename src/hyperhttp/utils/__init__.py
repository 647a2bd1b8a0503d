"""Small helpers with documented module paths (``hyperhttp.utils.backoff``)."""
