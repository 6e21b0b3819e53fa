"""tap-vendorz: VendorZ workspaces -> projects -> daily usage reports, as a Singer tap."""
