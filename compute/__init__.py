"""A thin Nova-like compute layer: compute API, scheduler and per-hypervisor agents."""
