from tap_vendory.tap import TapVendorY

TapVendorY.cli()
