"""Brume networking: the Neutron-shaped network API and the node-side datapath."""
