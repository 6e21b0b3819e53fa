from tap_vendorx.tap import TapVendorX

TapVendorX.cli()
