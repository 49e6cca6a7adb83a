"""A worked gansep plugin (see docs/extending.md): `plugin` is the module it registers."""
