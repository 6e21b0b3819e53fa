"""tap-vendory: VendorY orgs -> apps -> hourly usage summed per UTC day, as a Singer tap."""
