from tap_vendorz.tap import TapVendorZ

TapVendorZ.cli()
