"""The compute API (Nova v2.1 shapes, port 8774): routing in compute.api.app, one controller
module per resource."""
