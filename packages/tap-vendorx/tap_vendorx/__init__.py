"""tap-vendorx: VendorX accounts -> services -> daily metrics, as a Singer tap."""
