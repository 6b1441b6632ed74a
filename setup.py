"""Packaging for Brume: a Swift-style object and image store with a thin compute layer."""
from setuptools import find_packages, setup

setup(
    name="brume",
    version="0.1.0",
    description="Distributed object and image storage cluster with a thin compute layer",
    python_requires=">=3.11",
    packages=find_packages(
        include=["common*", "cli*", "ring*", "storage*", "proxy*", "imagesvc*", "compute*",
                 "identity*", "network*", "volume*", "dashboard*"]
    ),
    package_data={"": ["*.conf", "*.json"], "dashboard": ["static/*"]},
    install_requires=[
        "eventlet>=0.36",
        "webob>=1.8",
        "msgpack>=1.0",
        "numpy>=1.24",
        "libvirt-python>=9.0",
        "oslo.utils>=10.2",
        # The identity service: Fernet tokens, Argon2id password hashes.
        "cryptography>=42",
        "argon2-cffi>=23.1",
        "urllib3>=2",
        # CRC32 of every 64 KiB object block (PUT, GET, audit) at ~45 GB/s against zlib's
        # ~4.4 GB/s here, same values (common.crc32).
        "isal>=1.6",
        # clouds.yaml for `brume --os-cloud`: YAML as the openstack CLI reads it (safe loader).
        "PyYAML>=6.0",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "hypothesis>=6.100",
            "python-swiftclient>=4.4",
            "python-glanceclient>=4.0",
            # Unmodified OpenStack clients logging in to the identity service.
            "keystoneauth1>=5.0",
            "openstacksdk>=3.0",
            "python-openstackclient>=6.0",
            "ruff>=0.6",
            # The dashboard's browser tests (Debian's chromium and chromium-driver).
            "selenium>=4.10",
            "import-linter>=2.1",
            # Profiling the servers under benchmarks/side_by_side.py (py-spy record/dump).
            "py-spy>=0.3",
        ],
    },
    entry_points={
        "console_scripts": [
            "brume = cli.main:main",
            "ring-builder = ring.cli:main",
        ],
    },
)
