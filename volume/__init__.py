"""The block-storage service (Cinder v3-shaped, port 8776): volumes, snapshots, backups."""
