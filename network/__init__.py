"""The network service: a Neutron v2.0-shaped API on port 9696 (`network.app:make_app`)."""
