"""Built-in ganzoo plugins, installed as ``ganzoo.plugins``.

Each sub-package registers its classes when imported; ganzoo imports them lazily through the
``ganzoo.plugins`` entry-point group, exactly as it imports third-party plugins.
"""
