"""Resources of the Pioreactor leader API, one module per noun (async class + blocking twin)."""
