"""The node-side datapath: desired network state of one node turned into kernel state."""
