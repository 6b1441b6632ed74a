"""Storage nodes: account, container and object servers and the daemons that keep data safe.

Also home of the pieces every Brume server shares: config loading (`storage.config`),
the eventlet WSGI runner (`storage.wsgi_server`) and timestamps (`storage.timestamp`).
"""
